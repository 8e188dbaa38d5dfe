#pragma once
/// @file stored_jobs.hpp
/// @brief Jobs kept in a store (a SQLite file or a PostgreSQL database, store_location.hpp):
/// `run --store`, `submit`, `resume`, `approve`, `list`, `show` and `cancel`. A store that
/// cannot be opened, or an unknown job id, is exit status 2, and so is a job that another live
/// process is running (the message names it).

#include "report.hpp"
#include "store_location.hpp"

#include <jobgraph/orchestrator.hpp>
#include <jobgraph/run_control.hpp>
#include <jobgraph/store.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace jobgraph::cli {

/// @brief `run JOB.json --store STORE`: records the (already validated) @p job in @p store,
/// prints "job id: <id>" on stderr, runs it from the store and reports it as run does.
int run_stored_job(const nlohmann::json& job, const StoreLocation& store, const Orchestrator& orchestrator,
                   const OutputOptions& options, RunControl& control);

/// @brief `submit JOB.json --store STORE`: records the (already validated) @p job in @p store
/// and prints its id alone on stdout; runs nothing. Exit status 0.
int submit_stored_job(const nlohmann::json& job, const StoreLocation& store);

/// @brief `resume STORE JOB_ID`: runs the stored job from where it stopped; a job that already
/// ended is reported from its stored result and nothing runs. With @p approval
/// (`approve STORE JOB_ID ...`) its planned tasks are approved or rejected first and the counts
/// printed on stderr.
int resume_stored_job(const StoreLocation& store, const std::string& job_id, const ApprovalDecision* approval,
                      const Orchestrator& orchestrator, const OutputOptions& options, RunControl& control);

/// @brief `list STORE [--json]`: one line (or JSON object) per stored job, newest first.
int list_stored_jobs(const StoreLocation& store, bool as_json);

/// @brief `show STORE JOB_ID`: the job as it stands, as run reports it, running nothing. Exit
/// status 0 once shown.
int show_stored_job(const StoreLocation& store, const std::string& job_id, const OutputOptions& options);

/// @brief `cancel STORE JOB_ID [--reason TEXT]`: records the cancel; if no live process runs the
/// job, cancels it here and now (no handler is called). Exit status 0 once the job is
/// cancelled or its runner has been told, 1 if it had already ended otherwise.
int cancel_stored_job(const StoreLocation& store, const std::string& job_id, const std::string& reason,
                      const Orchestrator& orchestrator);

/// @brief The job @p job_id of @p store, or nullopt after saying on stderr that the store has
/// no such job.
std::optional<StoredJob> load_stored_job(const JobStore& store, const StoreLocation& location,
                                         const std::string& job_id);

}  // namespace jobgraph::cli
