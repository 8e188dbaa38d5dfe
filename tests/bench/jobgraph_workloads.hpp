#pragma once
// Workloads only jobgraph runs: asynchronous completion, concurrency limits and priorities, the
// cost of a spawned batch as the job grows, validating a large spec, and peak memory (measured
// in a child process so runs do not mix).

#include "workloads.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bench {

/// One timed run of an asynchronous workload.
struct AsyncRun {
    double makespan_ms = 0.0;  // Orchestrator::run, start to end
    Checksum checksum;
    bool ok = true;
    std::string problem;
};

/// Every task of @p graph sleeps its sleep_ms via a timer thread that fulfils its Completion.
AsyncRun run_async_graph(const StaticGraph& graph, std::size_t workers);

/// How the limits workload runs its graph: as it is, with random priorities, with concurrency
/// limits (the service, and a service/command pair that covers half the tasks), with both, or
/// with priorities falling with the task's index (ten levels, yet the plain job's start order).
enum class LimitsVariant { plain, priorities, limits, both, ordered_priorities };
const char* to_string(LimitsVariant variant);

/// One timed run of a limits variant.
struct LimitsRun {
    double ms = 0.0;          // Orchestrator::run on the ready-made spec, plus the checksum
    double own_run_ms = 0.0;  // the result's stats.wall_ms
    Checksum checksum;
    bool ok = true;
    std::string problem;
};

/// The limits workload's orchestrator and its four specs of one graph, built once.
class LimitsBench {
public:
    /// Limits of @p limit on the service and on the pair; priorities 0..9 drawn from @p seed.
    LimitsBench(const StaticGraph& graph, std::size_t workers, std::int64_t limit, std::uint64_t seed);
    ~LimitsBench();
    LimitsBench(const LimitsBench&) = delete;
    LimitsBench& operator=(const LimitsBench&) = delete;

    LimitsRun run(LimitsVariant variant) const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

/// One run of the asynchronous limit workload.
struct AsyncLimitRun {
    double makespan_ms = 0.0;      // Orchestrator::run, start to end
    std::int64_t most_running = 0;  // the most handler calls in flight at once, counted by the handlers
    Checksum checksum;
    bool ok = true;
    std::string problem;
};

/// Independent asynchronous tasks, each completed by a timer thread after its sleep_ms, under
/// a job concurrency limit of @p limit on their service.
AsyncLimitRun run_async_limit(const StaticGraph& graph, std::int64_t limit, std::size_t workers);

/// One timed run of the spawned-batch cost workload.
struct SpawnCostRun {
    double median_batch_us = 0.0;  // from a spawner's return to its spawned successor's start
    double total_ms = 0.0;
    bool ok = true;
    std::string problem;
};

/// A job of @p job_size tasks: a driver that spawns a chain of @p batches batches (each a
/// spawner and a leaf), while all the other tasks wait for the driver's subtree.
SpawnCostRun run_spawn_cost(std::uint32_t job_size, std::uint32_t batches, std::size_t workers);

/// Validates @p graph's job spec (built once, untimed) @p repeat times with
/// jobgraph::validate_job: the time of each, in ms. Empty if the spec was found invalid.
std::vector<double> time_validation(const StaticGraph& graph, int repeat);

/// What each task of the memory workload's chain carries: nothing (the issue's "trivial
/// tasks": what the system itself holds per task), or the timing workloads' JSON input and output.
enum class MemoryPayload { empty, json };

/// Peak resident memory of one system running a chain of @p tasks, measured in a child process.
struct MemoryRun {
    long baseline_kb = 0;  // VmHWM before the run
    long peak_kb = 0;      // VmHWM after it
    Checksum checksum;
    bool ok = true;
    std::string problem;
};

/// Starts this program again as a child that runs only the memory workload.
MemoryRun probe_memory(const std::string& self_path, const std::string& system, std::uint32_t tasks,
                       MemoryPayload payload);
/// The child's side: runs the chain on @p system, prints one JSON line, returns the exit code.
int memory_child_main(const std::string& system, std::uint32_t tasks, std::size_t workers, MemoryPayload payload);

}  // namespace bench
