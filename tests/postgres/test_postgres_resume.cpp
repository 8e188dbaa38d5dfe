// A stored job run from PostgreSQL ends as the same job run from SQLite.
#include "../helpers.hpp"
#include "postgres_backend.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <random>
#include <thread>

using namespace jobgraph;
using namespace jobgraph::testing;

namespace {

// A SQLite file in the temp folder, removed with its WAL files at the end of the test.
struct TempSqliteFile {
    std::filesystem::path path;
    TempSqliteFile() {
        std::random_device device;
        path = std::filesystem::temp_directory_path() /
               fmt::format("jobgraph-pg-compare-{:08x}{:08x}.db", device(), device());
    }
    ~TempSqliteFile() {
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::error_code ignored;
            std::filesystem::remove(path.string() + suffix, ignored);
        }
    }
};

// Two levels of spawned children, a failure, a declared dependency on a spawning task.
JobSpec spawning_spec() {
    const json grandchildren =
        json::array({child("t", "echo", {{"leaf", 1}}), child("t", "fail", {{"message", "no"}})});
    const json children = json::array(
        {child("t", "spawn", {{"children", grandchildren}}, {}, "inner"), child("t", "echo", {{"v", "x"}}, {"inner"})});
    JobSpec spec = job({task("t", "spawn", {{"children", children}}, {}, "root"),
                        task("t", "echo", {{"after", "root"}}, {"root"}, "last"), task("t", "echo", {{"alone", true}})},
                       "spawning");
    spec.abort_on_failure = false;
    return spec;
}

struct Outcome {
    TaskStatus status;
    json output;
    std::optional<std::string> parent;
    std::vector<std::string> children;
    int attempts;
    bool operator==(const Outcome&) const = default;
};

std::map<std::string, Outcome> outcomes(const std::vector<TaskRecord>& tasks) {
    std::map<std::string, Outcome> by_id;
    for (const auto& t : tasks) by_id[t.id] = Outcome{t.status, t.output, t.parent_id, t.children, t.attempts};
    return by_id;
}

std::vector<std::string> ids_in_order(const std::vector<TaskRecord>& tasks) {
    std::vector<std::string> ids;
    for (const auto& t : tasks) ids.push_back(t.id);
    return ids;
}

}  // namespace

TEST_CASE("Orchestrator::resume from PostgreSQL gives what it gives from SQLite", "[postgres][persistence]") {
    const auto workers = GENERATE(as<std::size_t>{}, 1, 4);
    const auto registry = basic_registry();
    const Orchestrator orchestrator(registry, {.workers = workers});
    const auto spec = spawning_spec();

    const TempSqliteFile file;
    SqliteStore sqlite(file.path);
    const auto sqlite_id = sqlite.create_job(spec);
    const JobResult from_sqlite = orchestrator.resume(sqlite_id, sqlite);

    PostgresSchema schema;
    PostgresStore postgres(schema.conninfo());
    const auto postgres_id = postgres.create_job(spec);
    const JobResult from_postgres = orchestrator.resume(postgres_id, postgres);

    REQUIRE(from_sqlite.status == JobStatus::failed);
    CHECK(from_postgres.status == from_sqlite.status);
    CHECK(from_postgres.error_message == from_sqlite.error_message);
    CHECK(from_postgres.stats.total == 7);
    CHECK(from_postgres.stats.failed == from_sqlite.stats.failed);
    CHECK(from_postgres.stats.succeeded == from_sqlite.stats.succeeded);
    CHECK(outcomes(from_postgres.tasks) == outcomes(from_sqlite.tasks));

    // What each store holds: the same records in the same creation order, and the result.
    const auto stored_sqlite = sqlite.load(sqlite_id);
    const auto stored_postgres = postgres.load(postgres_id);
    REQUIRE(stored_sqlite.has_value());
    REQUIRE(stored_postgres.has_value());
    CHECK(ids_in_order(stored_postgres->tasks) == ids_in_order(stored_sqlite->tasks));
    CHECK(outcomes(stored_postgres->tasks) == outcomes(stored_sqlite->tasks));
    REQUIRE(stored_postgres->result.has_value());
    CHECK(*stored_postgres->result == from_postgres);

    // Resuming a finished job returns the stored result and runs nothing.
    CHECK(orchestrator.resume(postgres_id, postgres) == from_postgres);
    const auto listed = postgres.list_jobs();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].status == "failed");
    CHECK(listed[0].done == 7);
}

TEST_CASE("A job that a live process holds in PostgreSQL is not resumed", "[postgres][persistence]") {
    const auto registry = basic_registry();
    PostgresSchema schema;
    PostgresStore store(schema.conninfo());
    const auto id = store.create_job(job({named("a")}));
    LeaseHolder other = LeaseHolder::for_this_process();  // a live process: this one
    other.id += "-other";
    store.acquire_lease(id, other, std::chrono::minutes(1));

    CHECK_THROWS_AS(Orchestrator(registry, {.workers = 1}).resume(id, store), JobBusyError);
    CHECK_THROWS_WITH(Orchestrator(registry, {.workers = 1}).resume(id, store),
                      Catch::StartsWith("Job " + id + " is being run by another process (pid " +
                                        std::to_string(other.pid) + " on host " + other.host + ", lease until "));
    CHECK(store.load(id)->tasks.empty());  // nothing ran

    store.release_lease(id, other);
    CHECK(Orchestrator(registry, {.workers = 1}).resume(id, store).status == JobStatus::succeeded);
    CHECK(store.list_jobs().at(0).status == "succeeded");
}

TEST_CASE("A cancel requested through PostgreSQL stops a run of the job", "[postgres][persistence]") {
    const auto registry = basic_registry();
    PostgresSchema schema;
    PostgresStore store(schema.conninfo());
    PostgresStore operator_store(schema.conninfo());  // as the `cancel` command would open it
    const auto id = store.create_job(job({task("t", "sleep", {{"ms", 60'000}}, {}, "slow"), named("after", {"slow"})}));

    SECTION("before it runs") {
        operator_store.request_cancel(id, "not needed any more");
        const auto result = Orchestrator(registry, {.workers = 2}).resume(id, store);
        CHECK(result.status == JobStatus::cancelled);
        CHECK(result.error_message == std::optional<std::string>("Job cancelled: not needed any more"));
        CHECK(result.at("slow").status == TaskStatus::aborted);
        CHECK(result.at("slow").attempts == 0);
    }

    SECTION("while it runs") {
        std::thread canceller([&] {
            // Once the slow task's start is committed, ask for the cancel from elsewhere.
            for (int i = 0; i < 2000; ++i) {
                const auto stored = operator_store.load(id);
                if (!stored->tasks.empty() && stored->tasks[0].status == TaskStatus::started) break;
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            operator_store.request_cancel(id, "operator");
        });
        JobResult result;
        const bool returned = returns_soon([&] {
            result =
                Orchestrator(registry, {.workers = 2, .heartbeat = std::chrono::milliseconds(20)}).resume(id, store);
        });
        canceller.join();
        REQUIRE(returned);
        CHECK(result.status == JobStatus::cancelled);
        CHECK(result.error_message == std::optional<std::string>("Job cancelled: operator"));
        CHECK(result.at("slow").status == TaskStatus::aborted);
        CHECK(result.at("slow").attempts == 1);
        CHECK(result.at("after").status == TaskStatus::aborted);
    }

    // The job stays cancelled: the stored result comes back, nothing runs, and the lease is free.
    const auto stored = store.load(id);
    REQUIRE(stored->result.has_value());
    CHECK(stored->result->status == JobStatus::cancelled);
    CHECK(Orchestrator(registry, {.workers = 1}).resume(id, store) == *stored->result);
    CHECK(store.list_jobs().at(0).status == "cancelled");
}
