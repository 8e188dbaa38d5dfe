#pragma once
/// @file stored_jobs.hpp
/// @brief Jobs kept in a SQLite file: `run --store`, `resume`, `approve`, `list`, `show` and
/// `cancel`. A file that is not a usable store, or an unknown job id, is exit status 2, and so
/// is a job that another live process is running (the message names it).

#include "report.hpp"

#include <jobgraph/orchestrator.hpp>
#include <jobgraph/run_control.hpp>
#include <jobgraph/store.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace jobgraph::cli {

/// @brief `run JOB.json --store DB`: records the (already validated) @p job in @p db, prints
/// "job id: <id>" on stderr, runs it from the store and reports it as run does.
int run_stored_job(const nlohmann::json& job, const std::string& db, const Orchestrator& orchestrator,
                   const OutputOptions& options, RunControl& control);

/// @brief `resume DB JOB_ID`: runs the stored job from where it stopped; a job that already
/// ended is reported from its stored result and nothing runs. With @p approval
/// (`approve DB JOB_ID ...`) its planned tasks are approved or rejected first and the counts
/// printed on stderr.
int resume_stored_job(const std::string& db, const std::string& job_id, const ApprovalDecision* approval,
                      const Orchestrator& orchestrator, const OutputOptions& options, RunControl& control);

/// @brief `list DB [--json]`: one line (or JSON object) per stored job, newest first.
int list_stored_jobs(const std::string& db, bool as_json);

/// @brief `show DB JOB_ID`: the job as it stands, as run reports it, running nothing. Exit
/// status 0 once shown.
int show_stored_job(const std::string& db, const std::string& job_id, const OutputOptions& options);

/// @brief `cancel DB JOB_ID [--reason TEXT]`: records the cancel; if no live process runs the
/// job, cancels it here and now (no handler is called). Exit status 0 once the job is
/// cancelled or its runner has been told, 1 if it had already ended otherwise.
int cancel_stored_job(const std::string& db, const std::string& job_id, const std::string& reason,
                      const Orchestrator& orchestrator);

}  // namespace jobgraph::cli
