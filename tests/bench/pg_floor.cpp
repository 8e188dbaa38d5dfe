// The pg-floor workload: the bare claim-and-complete loop of the scale-out design's executors,
// with nothing else (no coordinator, no handlers, no dependencies), so that a distributed run
// can be judged against what the same server does at best, measured in the same run.
//
// libpq directly rather than the store's connection class: the loop needs prepared statements,
// which a claim pays for on every call otherwise (parsing and planning a four-part CTE).

#include "pg_floor.hpp"

#include "timing.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <iterator>
#include <latch>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#include <unistd.h>

namespace bench {
namespace {

constexpr int claim_batch = 32;  // the design's default claim size
constexpr const char* job_id = "job-floor";

// The design's tasks table cut down to the columns a claim and a completion touch, with its
// storage settings and ready index, and its append-only history.
constexpr const char* create_tables_sql = R"sql(
CREATE TABLE tasks (
  job_id   text NOT NULL,
  position int NOT NULL,
  phase    smallint NOT NULL,  -- 1 ready, 2 running, 4 final
  attempt  int NOT NULL DEFAULT 0,
  owner    text,
  input    jsonb NOT NULL,
  output   jsonb,
  PRIMARY KEY (job_id, position)
) WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_cost_delay = 0);
CREATE INDEX tasks_ready ON tasks (position) WHERE phase = 1;
CREATE TABLE task_history (
  job_id   text NOT NULL,
  position int NOT NULL,
  n        bigint GENERATED ALWAYS AS IDENTITY,
  status   text NOT NULL,
  at       timestamptz NOT NULL,
  PRIMARY KEY (job_id, position, n)
);
)sql";

// One autocommit statement: lock up to $2 ready tasks other claimers have not locked, mark them
// running for owner $1 with a new attempt, and append their 'started' entries.
constexpr const char* claim_sql = R"sql(
WITH picked AS (
  SELECT job_id, position FROM tasks WHERE phase = 1
  ORDER BY position LIMIT $2::int FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE tasks SET phase = 2, attempt = tasks.attempt + 1, owner = $1::text
  FROM picked WHERE tasks.job_id = picked.job_id AND tasks.position = picked.position
  RETURNING tasks.job_id, tasks.position, tasks.attempt, tasks.input
), started AS (
  INSERT INTO task_history (job_id, position, status, at)
  SELECT job_id, position, 'started', now() FROM claimed
)
SELECT position, attempt, input FROM claimed
)sql";

// One autocommit statement: finish the reported tasks of job $2 that owner $1 still runs in the
// reported attempt (the fence that drops a reclaimed attempt's late report), with their
// outputs and 'succeeded' entries; returns how many it finished.
constexpr const char* complete_sql = R"sql(
WITH reports AS (
  SELECT * FROM jsonb_to_recordset($3::jsonb) AS r(position int, attempt int, output jsonb)
), done AS (
  UPDATE tasks SET phase = 4, output = reports.output
  FROM reports
  WHERE tasks.job_id = $2::text AND tasks.position = reports.position AND tasks.owner = $1::text
    AND tasks.attempt = reports.attempt AND tasks.phase = 2
  RETURNING tasks.job_id, tasks.position
), succeeded AS (
  INSERT INTO task_history (job_id, position, status, at)
  SELECT job_id, position, 'succeeded', now() FROM done
)
SELECT count(*) FROM done
)sql";

struct FinishConnection {
    void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};
struct ClearResult {
    void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using Connection = std::unique_ptr<PGconn, FinishConnection>;
using Result = std::unique_ptr<PGresult, ClearResult>;

// libpq's messages end in a newline.
std::string trimmed(const char* message) {
    std::string text = message ? message : "";
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

Result checked(PGconn* conn, PGresult* raw, std::string_view what) {
    Result result(raw);
    const ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        throw std::runtime_error(
            fmt::format("{} failed: {}", what, trimmed(raw ? PQresultErrorMessage(raw) : PQerrorMessage(conn))));
    }
    return result;
}

Result run(PGconn* conn, const std::string& sql, std::string_view what) {
    return checked(conn, PQexec(conn, sql.c_str()), what);
}

Result run_prepared(PGconn* conn, const char* name, std::initializer_list<const char*> params) {
    const std::vector<const char*> values(params);
    return checked(conn,
                   PQexecPrepared(conn, name, static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0),
                   name);
}

// A connection whose unqualified names resolve in @p schema (when given).
Connection connect(const std::string& conninfo, const std::string& schema) {
    Connection conn(PQconnectdb(conninfo.c_str()));
    if (!conn) throw std::runtime_error("cannot connect: out of memory");
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        throw std::runtime_error(fmt::format("cannot connect: {}", trimmed(PQerrorMessage(conn.get()))));
    }
    PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);  // DROP ... CASCADE lists what went
    if (!schema.empty()) run(conn.get(), "SET search_path TO " + schema, "setting the search path");
    return conn;
}

// Created on construction, dropped with everything in it on destruction, however the run ends.
class ThrowawaySchema {
public:
    ThrowawaySchema(PGconn* conn, std::string name) : conn_(conn), name_(std::move(name)) {
        run(conn_, "CREATE SCHEMA " + name_, "creating the schema");
    }
    ~ThrowawaySchema() {
        try {
            run(conn_, "DROP SCHEMA " + name_ + " CASCADE", "dropping the schema");
        } catch (const std::exception& error) {
            fmt::print(stderr, "pg-floor: schema {} left behind: {}\n", name_, error.what());
        }
    }
    ThrowawaySchema(const ThrowawaySchema&) = delete;
    ThrowawaySchema& operator=(const ThrowawaySchema&) = delete;

    const std::string& name() const noexcept { return name_; }

private:
    PGconn* conn_;
    std::string name_;
};

// Unique per run, so that runs against one database never meet (only [a-z0-9_]: no quoting).
std::string schema_name() {
    std::random_device random;
    return fmt::format("jobgraph_pg_floor_{}_{:08x}", ::getpid(), random());
}

std::string server_description(PGconn* conn) {
    const Result result = run(conn,
                              "SELECT current_setting('server_version'), current_setting('fsync'), "
                              "current_setting('synchronous_commit')",
                              "reading the server's settings");
    return fmt::format("PostgreSQL {}, fsync {}, synchronous_commit {}", PQgetvalue(result.get(), 0, 0),
                       PQgetvalue(result.get(), 0, 1), PQgetvalue(result.get(), 0, 2));
}

// Fresh tables each drain: no dead rows from the last one, and statistics the planner can use.
void fill(PGconn* conn, std::uint32_t tasks) {
    run(conn,
        fmt::format("TRUNCATE tasks, task_history RESTART IDENTITY; "
                    "INSERT INTO tasks (job_id, position, phase, input) "
                    "SELECT '{}', p, 1, jsonb_build_object('n', p) FROM generate_series(0, {} - 1) AS p; "
                    "ANALYZE tasks",
                    job_id, tasks),
        "filling the tasks table");
}

// Every task finished in its first attempt, with both history entries.
void verify(PGconn* conn, std::uint32_t tasks, int connections) {
    const Result result = run(conn,
                              "SELECT (SELECT count(*) FROM tasks WHERE phase = 4 AND attempt = 1), "
                              "(SELECT count(*) FROM task_history)",
                              "counting the finished tasks");
    const auto finished = std::strtoull(PQgetvalue(result.get(), 0, 0), nullptr, 10);
    const auto entries = std::strtoull(PQgetvalue(result.get(), 0, 1), nullptr, 10);
    if (finished != tasks || entries != 2ULL * tasks) {
        throw std::runtime_error(fmt::format("{} connections finished {} of {} tasks with {} history entries", connections,
                                             finished, tasks, entries));
    }
}

// Claims and completes batches until a claim finds nothing left to take: every ready task is
// then finished or being finished by another connection. Returns the tasks it finished.
std::uint64_t drain_as(PGconn* conn, const std::string& owner) {
    const std::string batch = std::to_string(claim_batch);
    std::uint64_t finished = 0;
    std::string reports;
    for (;;) {
        const Result claimed = run_prepared(conn, "claim", {owner.c_str(), batch.c_str()});
        const int rows = PQntuples(claimed.get());
        if (rows == 0) return finished;
        // The trivial handler returns its input; the report carries each task's attempt as the fence.
        reports = "[";
        for (int row = 0; row < rows; ++row) {
            fmt::format_to(std::back_inserter(reports), "{}{{\"position\":{},\"attempt\":{},\"output\":{}}}",
                           row == 0 ? "" : ",", PQgetvalue(claimed.get(), row, 0), PQgetvalue(claimed.get(), row, 1),
                           PQgetvalue(claimed.get(), row, 2));
        }
        reports += "]";
        const Result done = run_prepared(conn, "complete", {owner.c_str(), job_id, reports.c_str()});
        const auto completed = std::strtoull(PQgetvalue(done.get(), 0, 0), nullptr, 10);
        if (completed != static_cast<std::uint64_t>(rows)) {
            throw std::runtime_error(fmt::format("{} completed {} of the {} tasks it claimed", owner, completed, rows));
        }
        finished += completed;
    }
}

// Milliseconds for @p connections threads, each with its own connection, to drain the table.
double drain(const std::string& conninfo, const std::string& schema, int connections, std::uint32_t tasks) {
    std::vector<Connection> conns;
    for (int i = 0; i < connections; ++i) {
        conns.push_back(connect(conninfo, schema));
        checked(conns.back().get(), PQprepare(conns.back().get(), "claim", claim_sql, 0, nullptr), "preparing claim");
        checked(conns.back().get(), PQprepare(conns.back().get(), "complete", complete_sql, 0, nullptr),
                "preparing complete");
    }
    std::vector<std::uint64_t> finished(conns.size(), 0);
    std::vector<std::string> errors(conns.size());
    std::latch go(1);  // connections open and statements prepared before the clock starts
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < conns.size(); ++i) {
        threads.emplace_back([&, i] {
            go.wait();
            try {
                finished[i] = drain_as(conns[i].get(), fmt::format("floor-{}", i));
            } catch (const std::exception& error) {
                errors[i] = error.what();
            }
        });
    }
    const Stopwatch watch;
    go.count_down();
    for (auto& thread : threads) thread.join();
    const double ms = watch.elapsed_ms();
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < conns.size(); ++i) {
        if (!errors[i].empty()) throw std::runtime_error(errors[i]);
        total += finished[i];
    }
    if (total != tasks) {
        throw std::runtime_error(fmt::format("{} connections finished {} of {} tasks", connections, total, tasks));
    }
    return ms;
}

}  // namespace

PgFloorFigures run_pg_floor(const std::string& conninfo, std::uint32_t tasks, const std::vector<int>& connections,
                            int repeat) {
    const Connection admin = connect(conninfo, "");
    PgFloorFigures figures;
    figures.server = server_description(admin.get());
    const ThrowawaySchema schema(admin.get(), schema_name());
    run(admin.get(), "SET search_path TO " + schema.name(), "setting the search path");
    run(admin.get(), create_tables_sql, "creating the tables");
    for (const int count : connections) figures.series.push_back({count, {}});
    for (int rep = 0; rep < repeat; ++rep) {
        for (std::size_t k = 0; k < figures.series.size(); ++k) {
            PgFloorSeries& series = figures.series[(k + static_cast<std::size_t>(rep)) % figures.series.size()];
            fill(admin.get(), tasks);
            series.drain_ms.push_back(drain(conninfo, schema.name(), series.connections, tasks));
            verify(admin.get(), tasks, series.connections);
        }
    }
    return figures;
}

}  // namespace bench
