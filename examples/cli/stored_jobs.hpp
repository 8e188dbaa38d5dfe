#pragma once
/// @file stored_jobs.hpp
/// @brief Jobs kept in a SQLite file: `run --store`, `resume` and `approve`.

#include "report.hpp"

#include <jobgraph/orchestrator.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace jobgraph::cli {

/// @brief `run JOB.json --store DB`: records the (already validated) @p job in @p db, prints
/// "job id: <id>" on stderr, runs it from the store and reports it as run does.
int run_stored_job(const nlohmann::json& job, const std::string& db, const Orchestrator& orchestrator,
                   const OutputOptions& options);

/// @brief `resume DB JOB_ID`: runs the stored job from where it stopped; a job that already
/// ended is reported from its stored result and nothing runs. With @p approve_first
/// (`approve DB JOB_ID`) its planned tasks are approved first and the count printed on stderr.
/// An unknown id, or a file that is not a usable store, is exit status 2.
int resume_stored_job(const std::string& db, const std::string& job_id, bool approve_first,
                      const Orchestrator& orchestrator, const OutputOptions& options);

}  // namespace jobgraph::cli
