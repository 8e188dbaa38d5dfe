// What only PostgresStore has to do: connect, share a database, survive a lost connection.
#include "../helpers.hpp"
#include "postgres_backend.hpp"

#include <array>
#include <exception>
#include <thread>

using namespace jobgraph;
using namespace jobgraph::testing;

TEST_CASE("PostgresStore says why it cannot connect, without the password", "[postgres]") {
    const std::string conninfo =
        "postgresql://jobs:pa55-w0rd-9f1c@/jobgraph?host=/nonexistent/jobgraph-socket&connect_timeout=2";
    try {
        PostgresStore store(conninfo);
        FAIL("connected to a server that is not there");
    } catch (const StoreError& error) {
        const std::string message = error.what();
        CHECK_THAT(message, Catch::StartsWith("PostgresStore: cannot connect: ") &&
                                Catch::Contains("/nonexistent/jobgraph-socket"));
        CHECK_THAT(message, !Catch::Contains("pa55-w0rd-9f1c"));
    }
}

TEST_CASE("PostgresStore: several processes may create the tables at once", "[postgres]") {
    PostgresSchema schema;
    constexpr std::size_t openers = 4;
    std::array<std::exception_ptr, openers> errors{};
    std::array<std::string, openers> ids{};
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < openers; ++i) {
        threads.emplace_back([&, i] {
            try {
                PostgresStore store(schema.conninfo());
                ids[i] = store.create_job(job({named("a")}, "opener-" + std::to_string(i)));
            } catch (...) {
                errors[i] = std::current_exception();
            }
        });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& error : errors) {
        if (error) std::rethrow_exception(error);
    }
    PostgresStore store(schema.conninfo());
    CHECK(store.job_ids().size() == openers);
    CHECK(schema.admin().exec("SELECT 1 FROM " + schema.table("jobgraph_schema_version")) == 1);
}

TEST_CASE("PostgresStore refuses a schema whose tables it did not make", "[postgres]") {
    PostgresSchema schema;
    schema.admin().exec("CREATE TABLE " + schema.table("jobgraph_jobs") + " (id integer)");
    CHECK_THROWS_WITH(PostgresStore(schema.conninfo()),
                      Catch::StartsWith("PostgresStore: database \"") &&
                          Catch::EndsWith("has the tables jobgraph_jobs but no jobgraph_schema_version table"));
}

TEST_CASE("PostgresStore takes ids and text as values, never as SQL", "[postgres]") {
    PostgresSchema schema;
    PostgresStore store(schema.conninfo());
    const std::string hostile = "x'); DROP TABLE jobgraph_jobs; --";
    const auto id = store.create_job(job({named("a")}, hostile));
    CHECK_FALSE(store.load(hostile).has_value());
    CHECK_THROWS_AS(store.clear_result(hostile), StoreError);
    store.request_cancel(id, hostile);
    const auto holder = LeaseHolder::for_this_process();
    store.acquire_lease(id, holder, std::chrono::seconds(60));
    CHECK(store.renew_lease(id, holder, std::chrono::seconds(60)).cancel_reason == hostile);
    CHECK(store.load(id)->spec.name == hostile);
    CHECK(store.list_jobs().at(0).name == hostile);
}

TEST_CASE("PostgresStore reconnects after the server dropped its connection", "[postgres]") {
    PostgresSchema schema;
    PostgresStore store(schema.conninfo());
    const auto id = store.create_job(job({named("a")}));
    const std::int64_t ended = schema.admin().exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", {schema.name()});
    REQUIRE(ended == 1);
    // The operation that finds the connection gone fails; what follows runs on a new one.
    CHECK_THROWS_AS(store.job_ids(), StoreError);
    CHECK(store.job_ids() == std::vector<std::string>{id});
    CHECK(store.load(id).has_value());
}
