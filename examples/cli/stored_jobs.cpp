#include "stored_jobs.hpp"

#include "terminal_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <system_error>

namespace jobgraph::cli {
namespace {

// The library's messages name the file already; say which file when one does not.
void report_store_error(const std::string& db, const StoreError& error) {
    const std::string_view what = error.what();
    report_error(what.find(db) != std::string_view::npos ? std::string(what) : fmt::format("{}: {}", db, what));
}

// SqliteStore would create a missing file; a typo in the path should not leave an empty store.
bool store_exists(const std::string& db) {
    std::error_code error_code;
    if (std::filesystem::exists(db, error_code)) return true;
    report_error(fmt::format("{}: no such job store", db));
    return false;
}

std::optional<StoredJob> load_job(SqliteStore& store, const std::string& db, const std::string& job_id) {
    auto stored = store.load(job_id);
    if (!stored) report_error(fmt::format("{}: no job \"{}\" in this store", db, job_id));
    return stored;
}

std::string plural(std::size_t count, std::string_view noun) {
    return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

int resume_and_report(const std::string& db, SqliteStore& store, const std::string& job_id,
                      const Orchestrator& orchestrator, const OutputOptions& options, RunControl& control) {
    JobResult result;
    {
        const auto progress = make_progress(options);
        result = orchestrator.resume(job_id, store, progress.get(), &control);
    }
    const int status = report_result(result, options, db);
    if (!options.quiet) {
        if (result.status == JobStatus::awaiting_approval) {
            fmt::print(stderr, "to run the planned tasks: jobgraph approve {} {}\n", terminal_safe(db),
                       terminal_safe(job_id));
        } else if (result.status == JobStatus::interrupted) {
            fmt::print(stderr, "to go on: jobgraph resume {} {}\n", terminal_safe(db), terminal_safe(job_id));
        }
    }
    return status;
}

}  // namespace

int run_stored_job(const nlohmann::json& job, const std::string& db, const Orchestrator& orchestrator,
                   const OutputOptions& options, RunControl& control) {
    try {
        SqliteStore store(db);
        const std::string job_id = store.create_job(job.get<JobSpec>());
        // Before the run, so the id is known even if this process dies; stderr keeps stdout clean.
        fmt::print(stderr, "job id: {}\n", terminal_safe(job_id));
        std::fflush(stderr);
        return resume_and_report(db, store, job_id, orchestrator, options, control);
    } catch (const StoreError& error) {
        report_store_error(db, error);
        return exit_usage;
    }
}

int resume_stored_job(const std::string& db, const std::string& job_id, const ApprovalDecision* approval,
                      const Orchestrator& orchestrator, const OutputOptions& options, RunControl& control) {
    if (!store_exists(db)) return exit_usage;
    try {
        SqliteStore store(db);
        const auto stored = load_job(store, db, job_id);
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
        return resume_and_report(db, store, job_id, orchestrator, options, control);
    } catch (const StoreError& error) {
        report_store_error(db, error);
        return exit_usage;
    }
}

int list_stored_jobs(const std::string& db, bool as_json) {
    if (!store_exists(db)) return exit_usage;
    std::vector<JobSummary> jobs;
    try {
        jobs = SqliteStore(db).list_jobs();
    } catch (const StoreError& error) {
        report_store_error(db, error);
        return exit_usage;
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

int show_stored_job(const std::string& db, const std::string& job_id, const OutputOptions& options) {
    if (!store_exists(db)) return exit_usage;
    try {
        SqliteStore store(db);
        const auto stored = load_job(store, db, job_id);
        if (!stored) return exit_usage;
        return report_outputs(snapshot_of(*stored), options, db) ? exit_succeeded : exit_usage;
    } catch (const StoreError& error) {
        report_store_error(db, error);
        return exit_usage;
    }
}

int cancel_stored_job(const std::string& db, const std::string& job_id, const std::string& reason,
                      const Orchestrator& orchestrator) {
    if (!store_exists(db)) return exit_usage;
    try {
        SqliteStore store(db);
        const auto stored = load_job(store, db, job_id);
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
    } catch (const StoreError& error) {
        report_store_error(db, error);
        return exit_usage;
    }
}

}  // namespace jobgraph::cli
