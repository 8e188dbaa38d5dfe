#pragma once
// A system under test: something that runs a workload's tasks and reports what they computed.
// Each run covers the whole life of the work: build, validate, run, collect, tear down.

#include "workloads.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace bench {

/// What one run computed, for the cross-system check.
struct RunResult {
    Checksum checksum;
    bool ok = true;       // false when the system itself reported a failure
    std::string problem;  // why, when !ok
    // The part of the run the system times itself, where it does: for jobgraph the result's
    // stats.wall_ms (from the job's start, once validated and its records made, to its result
    // built), without building the spec, validating it, setting up the records, computing the
    // checksum or freeing the result.
    std::optional<double> own_run_ms;
    // For jobgraph, how long after the job's startedAt (taken once it is validated) its first
    // task started: making the records, then whatever the workers' start-up heap tidy (see
    // tests/bench/README.md) had not finished while the caller validated the job.
    std::optional<double> first_start_ms;
};

class System {
public:
    virtual ~System() = default;
    /// "jobgraph", "tbb" or "loop".
    virtual std::string_view name() const = 0;
    /// Runs every task of @p graph once its dependencies have run.
    virtual RunResult run_graph(const StaticGraph& graph) = 0;
    /// The same with empty task bodies (no input, no output), for what the system itself holds
    /// per task. The checksum only counts the tasks that ran.
    virtual RunResult run_empty_graph(const StaticGraph& graph) = 0;
    /// Runs a binary recursion to @p depth, each task creating its two children at run time.
    virtual RunResult run_recursion(int depth) = 0;
};

/// jobgraph's Orchestrator with @p workers worker threads.
std::unique_ptr<System> make_jobgraph_system(std::size_t workers);
/// oneTBB flow graph (recursion: nested task_group) in an arena of @p threads threads.
std::unique_ptr<System> make_tbb_system(int threads);
/// One thread, no pool: the graph in topological order, recursion by plain recursion.
std::unique_ptr<System> make_loop_system();

}  // namespace bench
