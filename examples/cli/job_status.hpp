#pragma once
/// @file job_status.hpp
/// @brief `status --store STORE JOB_ID [--wait [--timeout S]] [--json FILE|-]`: how a stored job
/// stands, and waiting for it to end while other processes run it.

#include "report.hpp"
#include "store_location.hpp"

#include <optional>
#include <string>

namespace jobgraph::cli {

/// @brief What `status` was asked for.
struct StatusOptions {
    bool wait = false;
    std::optional<double> timeout_seconds{};  ///< with wait: give up after this long
    OutputOptions output{};                   ///< only json_path is used
};

/// @brief Prints the job as `show` does. With `wait`, first polls the store (every 200 ms,
/// rising to every second) until the job has ended or the timeout has passed. Exit status: as
/// `run` gives it for a job that has ended (0, 1, 3, 4, 130); exit_unfinished for one that has
/// not (after a wait that timed out, a line on stderr says so); 2 for an unknown store or job.
/// An interrupted job that a runner is resuming right now has not ended.
int report_job_status(const StoreLocation& store, const std::string& job_id, const StatusOptions& options);

}  // namespace jobgraph::cli
