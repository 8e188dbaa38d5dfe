// Every command that takes a store, with a PostgreSQL store: each test in a schema of its own
// (docs/runner.md, "Stores"). Needs JOBGRAPH_TEST_POSTGRES; skipped without it.

#include "postgres_schema.hpp"
#include "stored_job_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <regex>

#include <signal.h>

using namespace cli_test;
using nlohmann::json;

namespace {

// The id that submit printed: the whole of its stdout, one line.
std::string submitted_id(const CliRun& run) {
    REQUIRE(run.exit_code == 0);
    REQUIRE(std::regex_match(run.out, std::regex("job-[0-9a-f]{12}\n")));
    return run.out.substr(0, run.out.size() - 1);
}

// @p text as one word for /bin/sh, as the runner prints it in its hints.
std::string shell_word(const std::string& text) {
    std::string quoted = "'";
    for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

void check_submit_and_status(const std::string& store) {
    const auto job = fixture_job("fail.json");
    const std::string id = submitted_id(run_cli({"submit", job, "--store", store}));

    const json listed = json::parse(run_cli({"list", store, "--json"}).out);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].at("id") == id);
    CHECK(listed[0].at("status") == "pending");
    CHECK(listed[0].at("total") == 3);

    const auto waiting = run_cli({"status", "--store", store, id});
    CHECK(waiting.exit_code == 5);
    CHECK(waiting.out.rfind("job fail: running", 0) == 0);
    CHECK(contains(waiting.out, "tasks: 3 total, 0 succeeded, 0 failed, 0 aborted, 0 planned, 3 pending\n"));

    const auto resumed = run_cli({"resume", store, id, "--json", "-", "--quiet"});
    CHECK(resumed.exit_code == 1);
    const auto ended = run_cli({"status", "--store", store, id, "--json", "-"});
    CHECK(ended.exit_code == 1);
    CHECK(json::parse(ended.out) == json::parse(resumed.out));
    CHECK(json::parse(ended.out).at("status") == "failed");
    CHECK(contains(ended.err, "job fail: failed"));

    const auto unknown = run_cli({"status", "--store", store, "job-000000000000"});
    CHECK(unknown.exit_code == 2);
    CHECK(unknown.err == "jobgraph: " + store + ": no job \"job-000000000000\" in this store\n");
}

}  // namespace

TEST_CASE("PostgreSQL, keyword string: submit stores the job, status follows it", "[cli][postgres]") {
    const TestSchema schema;
    check_submit_and_status(schema.keywords());
}

TEST_CASE("PostgreSQL, URL: submit stores the job, status follows it", "[cli][postgres]") {
    const TestSchema schema;
    check_submit_and_status(schema.url());
}

TEST_CASE("PostgreSQL: status --wait returns once another runner has finished the job", "[cli][postgres]") {
    const TestSchema schema;
    const std::string store = schema.url();
    const auto log = scratch_path("steps.log");
    const auto release = scratch_path("release");
    const std::string id = submitted_id(run_cli({"submit", write_slow_job(log, release), "--store", store}));

    BackgroundRun runner({"resume", store, id, "--quiet"}, "runner");
    REQUIRE(eventually([&] { return contains(file_or_empty(log), "slow"); }));
    BackgroundRun waiting({"status", "--store", store, id, "--wait", "--timeout", "30"}, "waiting");
    const json listed = json::parse(run_cli({"list", store, "--json"}).out);
    CHECK(listed[0].at("status") == "running");
    CHECK(listed[0].at("done") == 1);
    CHECK_FALSE(waiting.has_ended());  // "slow" runs until released

    std::ofstream(release) << "go";
    CHECK(waiting.wait() == 0);
    CHECK(waiting.out().rfind("job slow: succeeded", 0) == 0);
    CHECK(runner.wait() == 0);
    CHECK(read_file(log) == "quick\nslow\n");
}

TEST_CASE("PostgreSQL: run --store, list and show, each schema with its own jobs", "[cli][postgres]") {
    const TestSchema schema;
    const std::string store = schema.keywords();
    const auto first = run_cli({"run", fixture_job("fail.json"), "--store", store, "--json", "-", "--quiet"});
    CHECK(first.exit_code == 1);
    const std::string id = job_id_of(first.err);
    REQUIRE(std::regex_match(id, std::regex("job-[0-9a-f]{12}")));

    const json listed = json::parse(run_cli({"list", store, "--json"}).out);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].at("id") == id);
    CHECK(listed[0].at("status") == "failed");
    CHECK(listed[0].at("done") == 3);
    CHECK(listed[0].at("total") == 3);
    const auto table = run_cli({"list", store});
    CHECK(table.exit_code == 0);
    CHECK(contains(table.out, id + "  fail  failed  3/3  "));

    const auto shown = run_cli({"show", store, id, "--json", "-"});
    CHECK(shown.exit_code == 0);
    CHECK(json::parse(shown.out) == json::parse(first.out));
    const auto again = run_cli({"resume", store, id, "--json", "-"});
    CHECK(again.exit_code == 1);
    CHECK(json::parse(again.out) == json::parse(first.out));
    CHECK(contains(again.err, "job " + id + " had already ended (failed); its stored result follows, nothing ran"));

    const TestSchema other;
    const auto elsewhere = run_cli({"list", other.keywords(), "--json"});
    CHECK(elsewhere.exit_code == 0);
    CHECK(json::parse(elsewhere.out) == json::array());
    CHECK(run_cli({"show", other.keywords(), id}).exit_code == 2);
}

TEST_CASE("PostgreSQL: approve runs the planned tasks", "[cli][postgres]") {
    const TestSchema schema;
    const std::string store = schema.keywords();
    const auto planned = run_cli({"run", fixture_job("approval.json"), "--store", store});
    REQUIRE(planned.exit_code == 3);
    const std::string id = job_id_of(planned.err);
    CHECK(contains(planned.err, "to run the planned tasks: jobgraph approve " + shell_word(store) + " " + id + "\n"));
    CHECK(run_cli({"status", "--store", store, id}).exit_code == 3);

    const auto approved = run_cli({"approve", store, id, "deploy", "--json", "-"});
    CHECK(approved.exit_code == 0);
    CHECK(approved.err.rfind("approved 2 planned tasks\n", 0) == 0);
    const json result = json::parse(approved.out);
    CHECK(result.at("status") == "succeeded");
    CHECK(task_of(result, "deploy").at("output").at("stdout") == "deploying\n");
    CHECK(run_cli({"status", "--store", store, id}).exit_code == 0);
}

TEST_CASE("PostgreSQL: cancel of a job whose runner died, and of a running one", "[cli][postgres]") {
    const TestSchema schema;
    const std::string store = schema.url();

    SECTION("nobody runs it: cancelled at once; status and resume then exit 4") {
        const auto log = scratch_path("steps.log");
        const std::string id = killed_mid_run(store, log);
        CHECK(run_cli({"status", "--store", store, id}).exit_code == 5);
        const auto cancelled = run_cli({"cancel", store, id, "--reason", "no longer needed"});
        CHECK(cancelled.exit_code == 0);
        CHECK(cancelled.out == "job " + id + ": cancelled\n");
        CHECK(run_cli({"status", "--store", store, id}).exit_code == 4);
        const auto resumed = run_cli({"resume", store, id, "--json", "-"});
        CHECK(resumed.exit_code == 4);
        CHECK(json::parse(resumed.out).at("errorMessage") == "Job cancelled: no longer needed");
        CHECK(read_file(log) == "quick\nslow\n");  // no handler ran again
    }
    SECTION("a runner holds it: that runner stops and exits 4") {
        const auto log = scratch_path("steps.log");
        BackgroundRun runner(
            {"run", write_slow_job(log, scratch_path("never-released")), "--store", store, "--json", "-"}, "held");
        REQUIRE(eventually([&] { return contains(file_or_empty(log), "slow"); }));
        const std::string id = job_id_of(runner.err());
        const auto cancel = run_cli({"cancel", store, id, "--reason", "operator"});
        CHECK(cancel.exit_code == 0);
        CHECK(contains(cancel.out, "cancel requested"));
        CHECK(runner.wait() == 4);
        const json result = json::parse(runner.out());
        CHECK(result.at("status") == "cancelled");
        CHECK(task_of(result, "slow").at("status") == "aborted");
        CHECK(run_cli({"status", "--store", store, id}).exit_code == 4);
    }
}

TEST_CASE("PostgreSQL: Ctrl-C interrupts a run, status says 130, resume finishes it", "[cli][postgres]") {
    const TestSchema schema;
    const std::string store = schema.keywords();
    const auto log = scratch_path("steps.log");
    BackgroundRun runner({"run", write_slow_job(log, scratch_path("never-released")), "--store", store}, "interrupted");
    REQUIRE(eventually([&] { return contains(file_or_empty(log), "slow"); }));
    const std::string id = job_id_of(runner.err());
    runner.signal(SIGINT);
    CHECK(runner.wait() == 130);
    CHECK(contains(runner.err(), "to go on: jobgraph resume " + shell_word(store) + " " + id + "\n"));
    CHECK(run_cli({"status", "--store", store, id}).exit_code == 130);
    CHECK(json::parse(run_cli({"list", store, "--json"}).out)[0].at("status") == "interrupted");

    const auto resumed = run_cli({"resume", store, id, "--json", "-"});
    CHECK(resumed.exit_code == 0);
    CHECK(json::parse(resumed.out).at("status") == "succeeded");
    CHECK(read_file(log) == "quick\nslow\nslow\n");
    CHECK(run_cli({"status", "--store", store, id}).exit_code == 0);
}

TEST_CASE("PostgreSQL: a second runner of a job is refused with exit 2", "[cli][postgres]") {
    const TestSchema schema;
    const std::string store = schema.keywords();
    const auto log = scratch_path("steps.log");
    const auto release = scratch_path("release");
    BackgroundRun runner({"run", write_slow_job(log, release), "--store", store, "--quiet"}, "first");
    REQUIRE(eventually([&] { return contains(file_or_empty(log), "slow"); }));
    const std::string id = job_id_of(runner.err());
    const auto second = run_cli({"resume", store, id, "--quiet"});
    std::ofstream(release) << "go";
    CHECK(runner.wait() == 0);
    CHECK(second.exit_code == 2);
    CHECK(contains(second.err, "Job " + id + " is being run by another process (pid " + std::to_string(runner.pid())));
    CHECK(read_file(log) == "quick\nslow\n");
}
