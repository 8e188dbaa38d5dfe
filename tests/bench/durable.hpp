#pragma once
// The durable workload (see durable.cpp).

#include "workloads.hpp"

#include <cstddef>

namespace bench {

struct DurableFigures {
    double memory_ms = 0.0;         // median, the job without a store
    double durable_ms = 0.0;        // median, the same job kept in a SqliteStore (resume of a created job)
    double floor_per_second = 0.0;  // median, tiny WAL transactions SQLite commits per second here
    double two_commit_ms = 0.0;     // median, the job's records written in two transactions (starts, ends)
    bool ok = true;
};

/// Runs @p graph's job in memory and with the SQLite store, alternately, @p repeat times each,
/// and measures SQLite's floor after each pair.
DurableFigures run_durable(const StaticGraph& graph, std::size_t workers, int repeat);

}  // namespace bench
