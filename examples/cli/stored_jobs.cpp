#include "stored_jobs.hpp"

#include "terminal_text.hpp"

#include <jobgraph/store.hpp>

#include <fmt/format.h>

#include <filesystem>
#include <system_error>

namespace jobgraph::cli {
namespace {

// The library's messages name the file already; say which file when one does not.
void report_store_error(const std::string& db, const StoreError& error) {
    const std::string_view what = error.what();
    report_error(what.find(db) != std::string_view::npos ? std::string(what) : fmt::format("{}: {}", db, what));
}

int resume_and_report(const std::string& db, SqliteStore& store, const std::string& job_id,
                      const Orchestrator& orchestrator, const OutputOptions& options) {
    JobResult result;
    {
        const auto progress = make_progress(options);
        result = orchestrator.resume(job_id, store, progress.get());
    }
    const int status = report_result(result, options, db);
    if (result.status == JobStatus::awaiting_approval && !options.quiet) {
        fmt::print(stderr, "to run the planned tasks: jobgraph approve {} {}\n", terminal_safe(db),
                   terminal_safe(job_id));
    }
    return status;
}

}  // namespace

int run_stored_job(const nlohmann::json& job, const std::string& db, const Orchestrator& orchestrator,
                   const OutputOptions& options) {
    try {
        SqliteStore store(db);
        const std::string job_id = store.create_job(job.get<JobSpec>());
        // Before the run, so the id is known even if this process dies; stderr keeps stdout clean.
        fmt::print(stderr, "job id: {}\n", terminal_safe(job_id));
        std::fflush(stderr);
        return resume_and_report(db, store, job_id, orchestrator, options);
    } catch (const StoreError& error) {
        report_store_error(db, error);
        return exit_usage;
    }
}

int resume_stored_job(const std::string& db, const std::string& job_id, bool approve_first,
                      const Orchestrator& orchestrator, const OutputOptions& options) {
    // SqliteStore would create a missing file; a typo in the path should not leave an empty store.
    std::error_code error_code;
    if (!std::filesystem::exists(db, error_code)) {
        report_error(fmt::format("{}: no such job store", db));
        return exit_usage;
    }
    try {
        SqliteStore store(db);
        const auto stored = store.load(job_id);
        if (!stored) {
            report_error(fmt::format("{}: no job \"{}\" in this store", db, job_id));
            return exit_usage;
        }
        bool ended = stored->result.has_value();
        if (approve_first) {
            const std::size_t approved = approve_planned(store, job_id);
            fmt::print(stderr, "approved {} planned task{}\n", approved, approved == 1 ? "" : "s");
            std::fflush(stderr);
            if (approved > 0) ended = false;
        }
        if (ended && !options.quiet) {
            fmt::print(stderr, "job {} had already ended ({}); its stored result follows, nothing ran\n",
                       terminal_safe(job_id), to_string(stored->result->status));
            std::fflush(stderr);
        }
        return resume_and_report(db, store, job_id, orchestrator, options);
    } catch (const StoreError& error) {
        report_store_error(db, error);
        return exit_usage;
    }
}

}  // namespace jobgraph::cli
