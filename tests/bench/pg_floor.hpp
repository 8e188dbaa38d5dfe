#pragma once
// The pg-floor workload (see pg_floor.cpp): how fast PostgreSQL itself claims and completes
// tasks in batches, the floor a distributed run is measured against.

#include <cstdint>
#include <string>
#include <vector>

namespace bench {

/// The drains with one number of connections.
struct PgFloorSeries {
    int connections = 0;
    std::vector<double> drain_ms;  // one per repetition: all tasks claimed and completed
};

struct PgFloorFigures {
    std::vector<PgFloorSeries> series;  // in the order of the connection counts asked for
    std::string server;                 // version and the settings that decide commit cost
};

/// Fills a throwaway schema in the database @p conninfo names with @p tasks ready tasks and
/// drains them with each of @p connections concurrent connections, @p repeat times, the
/// starting count rotating each repetition. Throws std::runtime_error when the server fails or a
/// drain leaves a task unfinished; the schema is dropped in any case.
PgFloorFigures run_pg_floor(const std::string& conninfo, std::uint32_t tasks, const std::vector<int>& connections,
                            int repeat);

}  // namespace bench
