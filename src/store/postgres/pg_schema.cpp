#include "store/postgres/pg_schema.hpp"

#include "jobgraph/store.hpp"

#include <fmt/format.h>

namespace jobgraph::detail::pg {
namespace {

// JSON is kept as text, exactly as written (jsonb would refuse "\u0000" in strings and rewrite
// numbers). Times are timestamptz, so that the database can compare them with now().
// A task is one row keyed (job_id, position): what never changes is written once, the columns
// that follow its status are updated, and its history is only ever appended to.
constexpr const char* create_tables_sql = R"sql(
CREATE TABLE jobgraph_schema_version (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    integer NOT NULL
);
CREATE TABLE jobgraph_jobs (
    id               text PRIMARY KEY,
    seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,  -- creation order
    name             text NOT NULL,
    spec             text NOT NULL,         -- JobSpec as JSON
    spec_tasks       integer NOT NULL,      -- the spec's task count, for listings of jobs never run
    result           text,                  -- JobResult as JSON; NULL while the job is unfinished
    result_status    text,                  -- the result's job status, for listings
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    cancel_reason    text,                  -- set once a cancel was requested
    lease_holder     text,                  -- the run holding the job; NULL when free
    lease_host       text,
    lease_pid        bigint,
    lease_expires_at timestamptz
);
CREATE TABLE jobgraph_tasks (
    job_id             text NOT NULL REFERENCES jobgraph_jobs (id) ON DELETE CASCADE,
    position           bigint NOT NULL,     -- creation order within the job
    id                 text NOT NULL,
    parent_id          text,
    depth              integer NOT NULL,
    service            text NOT NULL,
    command            text NOT NULL,
    input              text NOT NULL,       -- JSON
    depends_on         text NOT NULL,       -- JSON array of task ids, as declared
    status             text NOT NULL,
    output             text NOT NULL,       -- JSON, "null" until the task finishes
    trace              text NOT NULL,       -- JSON
    children           text NOT NULL,       -- JSON array of task ids
    attempts           integer NOT NULL,
    started_at         timestamptz,
    completed_at       timestamptz,
    next_attempt_at    timestamptz,         -- while retrying
    timeout_ms         bigint NOT NULL,     -- per attempt; 0 means none
    priority           integer NOT NULL,
    retry_max_attempts integer NOT NULL,
    retry_delay_ms     bigint NOT NULL,
    retry_backoff      double precision NOT NULL,
    retry_max_delay_ms bigint NOT NULL,
    retry_jitter       boolean NOT NULL,
    PRIMARY KEY (job_id, position),
    UNIQUE (job_id, id)
);
CREATE TABLE jobgraph_task_history (
    job_id   text NOT NULL,
    position bigint NOT NULL,
    seq      integer NOT NULL,              -- the entry's place in the task's history
    status   text NOT NULL,
    at       timestamptz NOT NULL,
    reason   text NOT NULL,
    PRIMARY KEY (job_id, position, seq),
    FOREIGN KEY (job_id, position) REFERENCES jobgraph_tasks (job_id, position) ON DELETE CASCADE
);
)sql";

}  // namespace

void open_schema(Connection& connection) {
    const std::string_view operation = "open";
    Transaction transaction(connection, operation);
    // Held to the end of the transaction: two processes opening a new database at once must not
    // both create the tables. Keyed by the schema, so that stores in other schemas go on.
    connection.exec("SELECT pg_advisory_xact_lock(hashtext('jobgraph schema ' || coalesce(current_schema(), '')))", {},
                    operation);
    const Result found = connection.exec(
        "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
        "AND tablename = 'jobgraph_schema_version'",
        {}, operation);
    if (found.int64(0, 0) == 0) {
        const Result others = connection.exec(
            "SELECT string_agg(tablename, ', ' ORDER BY tablename) FROM pg_catalog.pg_tables "
            "WHERE schemaname = current_schema() AND tablename IN ('jobgraph_jobs', 'jobgraph_tasks', "
            "'jobgraph_task_history')",
            {}, operation);
        if (!others.is_null(0, 0)) {
            throw StoreError(fmt::format("PostgresStore: {} has the tables {} but no jobgraph_schema_version table",
                                         connection.where(), others.text(0, 0)));
        }
        connection.exec_script(create_tables_sql, "create tables");
        connection.exec("INSERT INTO jobgraph_schema_version (version) VALUES ($1)", {schema_version}, "create tables");
    } else {
        const Result version = connection.exec("SELECT version FROM jobgraph_schema_version", {}, operation);
        if (version.rows() != 1) {
            throw StoreError(fmt::format("PostgresStore: {} has {} rows in jobgraph_schema_version, not one",
                                         connection.where(), version.rows()));
        }
        const std::int64_t found_version = version.int64(0, 0);
        if (found_version != schema_version) {
            throw StoreError(fmt::format("PostgresStore: {} has schema version {}, this build reads version {}",
                                         connection.where(), found_version, schema_version));
        }
    }
    transaction.commit();
}

}  // namespace jobgraph::detail::pg
