// How a store named on the command line is read: a PostgreSQL URL or keyword string, else a
// SQLite file (docs/runner.md, "Stores"). No server is needed: nothing listens on 127.0.0.1:1.

#include "stored_job_support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace cli_test;

namespace {

// What the runner says when it cannot use the PostgreSQL store @p shown (as it prints it).
void check_postgres_refused(const CliRun& run, const std::string& shown) {
    CHECK(run.exit_code == 2);
    CHECK(run.out.empty());
#ifdef JOBGRAPH_RUNNER_HAS_POSTGRES
    CHECK(run.err.rfind("jobgraph: " + shown + ": PostgresStore: cannot connect: ", 0) == 0);
#else
    CHECK(run.err == "jobgraph: " + shown +
                         ": names a PostgreSQL database, but this jobgraph was built without PostgreSQL "
                         "(JOBGRAPH_WITH_POSTGRES=OFF); it keeps jobs only in SQLite files\n");
#endif
}

}  // namespace

TEST_CASE("A PostgreSQL URL or keyword string names a database, and messages leave its password out",
          "[cli][store][postgres]") {
    struct Case {
        std::string store;
        std::string shown;
    };
    const Case cases[] = {
        {"postgresql://runner:hunter2@127.0.0.1:1/jobs", "postgresql://runner@127.0.0.1:1/jobs"},
        {"postgres://127.0.0.1:1/jobs?password=hunter2&connect_timeout=5",
         "postgres://127.0.0.1:1/jobs?connect_timeout=5"},
        {"host=127.0.0.1 port=1 dbname=jobs password='hunter 2\\' x' user=runner",
         "host=127.0.0.1 port=1 dbname=jobs user=runner"},
        {"hostaddr = 127.0.0.1  port=1 password=hunter2", "hostaddr = 127.0.0.1 port=1"},
    };
    const auto job = fixture_job("fail.json");
    for (const auto& [store, shown] : cases) {
        INFO(store);
        for (const auto& args : std::vector<std::vector<std::string>>{{"list", store},
                                                                      {"show", store, "job-000000000000"},
                                                                      {"resume", store, "job-000000000000"},
                                                                      {"approve", store, "job-000000000000"},
                                                                      {"cancel", store, "job-000000000000"},
                                                                      {"status", "--store", store, "job-1"},
                                                                      {"submit", job, "--store", store},
                                                                      {"run", job, "--store", store}}) {
            INFO(args.front());
            const auto run = run_cli(args);
            check_postgres_refused(run, shown);
            CHECK_FALSE(contains(run.err, "hunter"));
        }
        // Taken as a database, never as a file name.
        CHECK_FALSE(std::filesystem::exists(std::filesystem::path(REPOSITORY_DIR) / store));
    }
}

TEST_CASE("Any other store is a SQLite file, '=' in its path included", "[cli][store]") {
    const auto db = scratch_path("name=value.db").string();  // an absolute path: a file
    const auto run = run_cli({"run", fixture_job("fail.json"), "--store", db, "--quiet"});
    CHECK(run.exit_code == 1);
    CHECK(std::filesystem::is_regular_file(db));
    const auto hint = run_cli({"run", fixture_job("approval.json"), "--store", db});
    CHECK(hint.exit_code == 3);
    CHECK(contains(hint.err, "to run the planned tasks: jobgraph approve " + db + " " + job_id_of(hint.err) + "\n"));
}
