#pragma once
// The workloads every system runs: graph shapes given as plain data, and the one task body
// all systems execute (build a 3-field JSON object from the task's input and store it).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace bench {

/// A task graph in topological order: every dependency of task i has a smaller index.
struct StaticGraph {
    std::string shape;                   // "dag", "chain", "fanout"
    std::uint32_t size = 0;
    std::vector<std::uint32_t> offsets;  // deps of task i: deps[offsets[i] .. offsets[i+1])
    std::vector<std::uint32_t> deps;
    std::vector<std::uint32_t> sleep_ms;  // per task, only for the asynchronous workloads

    std::size_t dep_count(std::uint32_t task) const { return offsets[task + 1] - offsets[task]; }
    const std::uint32_t* deps_begin(std::uint32_t task) const { return deps.data() + offsets[task]; }
    const std::uint32_t* deps_end(std::uint32_t task) const { return deps.data() + offsets[task + 1]; }
};

/// Each task i > 0 depends on 0..max_deps distinct tasks among the `window` before it.
StaticGraph random_dag(std::uint32_t size, std::uint32_t max_deps, std::uint32_t window, std::uint64_t seed);
/// Task i depends on task i-1.
StaticGraph chain(std::uint32_t size);
/// One source, `width` tasks that depend on it, one sink that depends on all of them.
StaticGraph fan_out(std::uint32_t width);
/// Adds a sleep of min_ms..max_ms to every task.
void add_sleeps(StaticGraph& graph, std::uint32_t min_ms, std::uint32_t max_ms, std::uint64_t seed);

/// Longest path through the graph, weighted by sleep_ms.
double critical_path_ms(const StaticGraph& graph);
/// Makespan of a wave-by-wave schedule: wave k holds the tasks whose longest chain of
/// dependencies has k links; a wave starts when the previous one has finished entirely.
double wave_makespan_ms(const StaticGraph& graph);

// --- the task body -------------------------------------------------------------------------

/// The input of task `index` (for recursion workloads, its heap index).
nlohmann::json task_input(std::uint64_t index);
/// The work every task does in every system: a 3-field object built from the input.
nlohmann::json task_output(const nlohmann::json& input);
/// An order-independent digest of one stored output; systems sum these.
std::uint64_t output_digest(const nlohmann::json& output);

/// Sum of output digests plus the number of outputs: what every system must agree on.
struct Checksum {
    std::uint64_t sum = 0;
    std::uint64_t count = 0;

    void add(const nlohmann::json& output) {
        sum += output_digest(output);
        ++count;
    }
    bool operator==(const Checksum&) const = default;
};

/// Binary recursion: node k (heap order) has children 2k+1 and 2k+2 down to `depth`.
constexpr std::uint64_t recursion_size(int depth) { return (std::uint64_t{1} << (depth + 1)) - 1; }

}  // namespace bench
