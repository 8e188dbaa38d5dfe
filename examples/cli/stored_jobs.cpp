#include "stored_jobs.hpp"

#include "terminal_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace jobgraph::cli {
namespace {

std::string plural(std::size_t count, std::string_view noun) {
    return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

int resume_and_report(const StoreLocation& location, JobStore& store, const std::string& job_id,
                      const Orchestrator& orchestrator, const OutputOptions& options, RunControl& control) {
    JobResult result;
    {
        const auto progress = make_progress(options);
        result = orchestrator.resume(job_id, store, progress.get(), &control);
    }
    const int status = report_result(result, options, location.display());
    if (!options.quiet) {
        if (result.status == JobStatus::awaiting_approval) {
            fmt::print(stderr, "to run the planned tasks: jobgraph approve {} {}\n", location.shell_word(),
                       terminal_safe(job_id));
        } else if (result.status == JobStatus::interrupted) {
            fmt::print(stderr, "to go on: jobgraph resume {} {}\n", location.shell_word(), terminal_safe(job_id));
        }
    }
    return status;
}

}  // namespace

int run_stored_job(const nlohmann::json& job, const StoreLocation& location, const Orchestrator& orchestrator,
                   const OutputOptions& options, RunControl& control) {
    return with_store(location, StoreAccess::create, [&](JobStore& store) {
        const std::string job_id = store.create_job(job.get<JobSpec>());
        // Before the run, so the id is known even if this process dies; stderr keeps stdout clean.
        fmt::print(stderr, "job id: {}\n", terminal_safe(job_id));
        std::fflush(stderr);
        return resume_and_report(location, store, job_id, orchestrator, options, control);
    });
}

int submit_stored_job(const nlohmann::json& job, const StoreLocation& location) {
    return with_store(location, StoreAccess::create, [&](JobStore& store) {
        // The id alone on stdout, so that a script can take it: id=$(jobgraph submit ...).
        fmt::print("{}\n", terminal_safe(store.create_job(job.get<JobSpec>())));
        return exit_succeeded;
    });
}

std::optional<StoredJob> load_stored_job(const JobStore& store, const StoreLocation& location,
                                         const std::string& job_id) {
    auto stored = store.load(job_id);
    if (!stored) report_error(fmt::format("{}: no job \"{}\" in this store", location.display(), job_id));
    return stored;
}

int resume_stored_job(const StoreLocation& location, const std::string& job_id, const ApprovalDecision* approval,
                      const Orchestrator& orchestrator, const OutputOptions& options, RunControl& control) {
    return with_store(location, StoreAccess::existing, [&](JobStore& store) {
        const auto stored = load_stored_job(store, location, job_id);
        if (!stored) return exit_usage;
        bool ended = stored->result.has_value() && stored->result->status != JobStatus::interrupted;
        if (approval) {
            const std::size_t approved = approve_planned(store, job_id, *approval);
            std::string said = fmt::format("approved {}", plural(approved, "planned task"));
            if (!approval->reject.empty()) said += fmt::format(", rejected {}", approval->reject.size());
            fmt::print(stderr, "{}\n", said);
            std::fflush(stderr);
            if (approved > 0 || !approval->reject.empty()) ended = false;
        }
        if (ended && !options.quiet) {
            fmt::print(stderr, "job {} had already ended ({}); its stored result follows, nothing ran\n",
                       terminal_safe(job_id), to_string(stored->result->status));
            std::fflush(stderr);
        }
        return resume_and_report(location, store, job_id, orchestrator, options, control);
    });
}

int list_stored_jobs(const StoreLocation& location, bool as_json) {
    std::vector<JobSummary> jobs;
    if (const int status = with_store(location, StoreAccess::existing,
                                      [&](JobStore& store) {
                                          jobs = store.list_jobs();
                                          return exit_succeeded;
                                      });
        status != exit_succeeded) {
        return status;
    }
    if (as_json) {
        auto array = nlohmann::json::array();
        for (const auto& job : jobs) {
            array.push_back({{"id", job.id},
                             {"name", job.name},
                             {"status", job.status},
                             {"done", job.done},
                             {"total", job.total},
                             {"createdAt", format_timestamp(job.created_at)},
                             {"updatedAt", format_timestamp(job.updated_at)}});
        }
        fmt::print("{}\n", array.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
        return exit_succeeded;
    }
    struct Row {
        std::string id, name, status, tasks;
    };
    std::vector<Row> rows;
    std::size_t widths[4] = {2, 4, 6, 5};
    for (const auto& job : jobs) {
        Row row{terminal_safe(job.id), terminal_safe(job.name), job.status, fmt::format("{}/{}", job.done, job.total)};
        widths[0] = std::max(widths[0], display_width(row.id));
        widths[1] = std::max(widths[1], display_width(row.name));
        widths[2] = std::max(widths[2], row.status.size());
        widths[3] = std::max(widths[3], row.tasks.size());
        rows.push_back(std::move(row));
    }
    std::string text =
        fmt::format("{}  {}  {}  {}  {:<27}  {}\n", pad_to_width("ID", widths[0]), pad_to_width("NAME", widths[1]),
                    pad_to_width("STATUS", widths[2]), pad_to_width("TASKS", widths[3]), "CREATED", "UPDATED");
    for (std::size_t i = 0; i < rows.size(); ++i) {
        text += fmt::format("{}  {}  {}  {}  {:<27}  {}\n", pad_to_width(rows[i].id, widths[0]),
                            pad_to_width(rows[i].name, widths[1]), pad_to_width(rows[i].status, widths[2]),
                            pad_to_width(rows[i].tasks, widths[3]), format_timestamp(jobs[i].created_at),
                            format_timestamp(jobs[i].updated_at));
    }
    fmt::print("{}", text);
    return exit_succeeded;
}

int show_stored_job(const StoreLocation& location, const std::string& job_id, const OutputOptions& options) {
    return with_store(location, StoreAccess::existing, [&](JobStore& store) {
        const auto stored = load_stored_job(store, location, job_id);
        if (!stored) return exit_usage;
        return report_outputs(snapshot_of(*stored), options, location.display()) ? exit_succeeded : exit_usage;
    });
}

int cancel_stored_job(const StoreLocation& location, const std::string& job_id, const std::string& reason,
                      const Orchestrator& orchestrator) {
    return with_store(location, StoreAccess::existing, [&](JobStore& store) {
        const auto stored = load_stored_job(store, location, job_id);
        if (!stored) return exit_usage;
        if (stored->result && stored->result->status == JobStatus::cancelled) {
            fmt::print("job {} was cancelled already\n", terminal_safe(job_id));
            return exit_succeeded;
        }
        // An interrupted or approval-awaiting job can still be cancelled; one that ended cannot.
        if (stored->result &&
            (stored->result->status == JobStatus::succeeded || stored->result->status == JobStatus::failed)) {
            report_error(fmt::format("job {} had already ended ({}); nothing to cancel", job_id,
                                     to_string(stored->result->status)));
            return exit_failed;
        }
        store.request_cancel(job_id, reason);
        // A job awaiting approval has a result, which a resume would return as it is.
        if (stored->result && stored->result->status == JobStatus::awaiting_approval) store.clear_result(job_id);
        // Nobody runs it, or its holder died: end it here, with the run already cancelled so that
        // no handler is called. A live holder sees the request at its next lease renewal.
        RunControl control;
        control.cancel(reason);
        try {
            const JobResult result = orchestrator.resume(job_id, store, nullptr, &control);
            fmt::print("job {}: {}\n", terminal_safe(job_id), to_string(result.status));
        } catch (const JobBusyError& busy) {
            fmt::print("job {}: cancel requested; the run holding it stops at its next check\n({})\n",
                       terminal_safe(job_id), terminal_safe(busy.what()));
        }
        return exit_succeeded;
    });
}

}  // namespace jobgraph::cli
