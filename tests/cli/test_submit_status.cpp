// submit and status with a SQLite store (docs/runner.md, "Stored jobs").

#include "stored_job_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <regex>

#include <signal.h>

using namespace cli_test;
using nlohmann::json;

namespace {

// A job whose only task appends a line to @p log, so every run of it can be counted.
std::string write_append_job(const std::filesystem::path& log) {
    const json job = {
        {"name", "append"},
        {"tasks",
         {{{"id", "append"},
           {"service", "shell"},
           {"command", "run"},
           {"input",
            {{"argv", {"sh", "-c", "echo ran >> \"$LOG\"; echo appended"}}, {"env", {{"LOG", log.string()}}}}}}}}};
    const auto path = scratch_path("append.json");
    std::ofstream(path) << job.dump();
    return path.string();
}

// The id that submit printed: the whole of its stdout, one line.
std::string submitted_id(const CliRun& run) {
    REQUIRE(run.exit_code == 0);
    REQUIRE(std::regex_match(run.out, std::regex("job-[0-9a-f]{12}\n")));
    return run.out.substr(0, run.out.size() - 1);
}

}  // namespace

TEST_CASE("submit adds a checked job to the store and runs nothing, and status follows it", "[cli][store][submit]") {
    const auto db = scratch_path("jobs.db").string();
    const auto log = scratch_path("append.log");
    const auto submitted = run_cli({"submit", write_append_job(log), "--store", db});
    const std::string id = submitted_id(submitted);
    CHECK(submitted.err.empty());
    CHECK_FALSE(std::filesystem::exists(log));  // nothing ran

    const json listed = json::parse(run_cli({"list", db, "--json"}).out);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].at("id") == id);
    CHECK(listed[0].at("status") == "pending");
    CHECK(listed[0].at("done") == 0);
    CHECK(listed[0].at("total") == 1);

    const auto waiting = run_cli({"status", "--store", db, id});
    CHECK(waiting.exit_code == 5);
    CHECK(waiting.out.rfind("job append: running", 0) == 0);
    CHECK(contains(waiting.out, "tasks: 1 total, 0 succeeded, 0 failed, 0 aborted, 0 planned, 1 pending\n"));
    CHECK(waiting.err.empty());

    const auto resumed = run_cli({"resume", db, id, "--json", "-", "--quiet"});
    CHECK(resumed.exit_code == 0);
    CHECK(read_file(log) == "ran\n");

    const auto done = run_cli({"status", "--store", db, id});
    CHECK(done.exit_code == 0);
    CHECK(done.out.rfind("job append: succeeded", 0) == 0);
    const auto as_json = run_cli({"status", "--store", db, id, "--json", "-"});
    CHECK(as_json.exit_code == 0);
    CHECK(json::parse(as_json.out) == json::parse(resumed.out));
    CHECK(contains(as_json.err, "job append: succeeded"));  // the summary moves to stderr
    CHECK(read_file(log) == "ran\n");
}

TEST_CASE("submit refuses an invalid job as run does, and stores nothing", "[cli][store][submit]") {
    const auto db = scratch_path("jobs.db").string();
    REQUIRE(run_cli({"submit", write_append_job(scratch_path("append.log")), "--store", db}).exit_code == 0);
    for (const std::string file : {"unknown-service.json", "malformed.json", "cycle.json"}) {
        INFO(file);
        const auto submitted = run_cli({"submit", fixture_job(file), "--store", db});
        const auto ran = run_cli({"run", fixture_job(file), "--store", db});
        CHECK(submitted.exit_code == 2);
        CHECK(submitted.out.empty());
        CHECK_FALSE(submitted.err.empty());
        CHECK(submitted.err == ran.err);
        CHECK(ran.exit_code == 2);
    }
    CHECK(json::parse(run_cli({"list", db, "--json"}).out).size() == 1);

    const auto no_store = run_cli({"submit", fixture_job("fail.json")});
    CHECK(no_store.exit_code == 2);
    CHECK(contains(no_store.err, "--store is required"));
}

TEST_CASE("status gives a finished job's exit status as run does", "[cli][store][status]") {
    const auto db = scratch_path("jobs.db").string();
    const auto status_of = [&](const std::string& id) { return run_cli({"status", "--store", db, id}).exit_code; };

    const auto failed = run_cli({"run", fixture_job("fail.json"), "--store", db, "--quiet"});
    REQUIRE(failed.exit_code == 1);
    CHECK(status_of(job_id_of(failed.err)) == 1);

    const auto planned = run_cli({"run", fixture_job("approval.json"), "--store", db, "--quiet"});
    REQUIRE(planned.exit_code == 3);
    CHECK(status_of(job_id_of(planned.err)) == 3);

    const std::string cancelled = killed_mid_run(db, scratch_path("killed.log"));
    CHECK(status_of(cancelled) == 5);  // its runner died: not ended
    REQUIRE(run_cli({"cancel", db, cancelled}).exit_code == 0);
    CHECK(status_of(cancelled) == 4);

    const auto log = scratch_path("interrupted.log");
    BackgroundRun runner({"run", write_slow_job(log, scratch_path("never-released")), "--store", db, "--quiet"},
                         "interrupted");
    REQUIRE(eventually([&] { return contains(file_or_empty(log), "slow"); }));
    runner.signal(SIGINT);
    REQUIRE(runner.wait() == 130);
    const auto interrupted = run_cli({"status", "--store", db, job_id_of(runner.err()), "--json", "-"});
    CHECK(interrupted.exit_code == 130);
    CHECK(json::parse(interrupted.out).at("status") == "interrupted");
}

TEST_CASE("status of an unknown job or store: exit 2", "[cli][store][status]") {
    const auto db = scratch_path("jobs.db").string();
    REQUIRE(run_cli({"submit", fixture_job("fail.json"), "--store", db}).exit_code == 0);
    const auto unknown = run_cli({"status", "--store", db, "job-000000000000"});
    CHECK(unknown.exit_code == 2);
    CHECK(unknown.err == "jobgraph: " + db + ": no job \"job-000000000000\" in this store\n");
    CHECK(unknown.out.empty());

    const auto missing = scratch_path("missing.db");
    const auto run = run_cli({"status", "--store", missing.string(), "job-000000000000", "--wait"});
    CHECK(run.exit_code == 2);
    CHECK(run.err == "jobgraph: " + missing.string() + ": no such job store\n");
    CHECK_FALSE(std::filesystem::exists(missing));
}

TEST_CASE("status --wait returns once another runner has finished the job", "[cli][store][status]") {
    const auto db = scratch_path("jobs.db").string();
    const auto log = scratch_path("steps.log");
    const auto release = scratch_path("release");
    const std::string id = submitted_id(run_cli({"submit", write_slow_job(log, release), "--store", db}));

    BackgroundRun runner({"resume", db, id, "--quiet"}, "runner");
    REQUIRE(eventually([&] { return contains(file_or_empty(log), "slow"); }));
    BackgroundRun waiting({"status", "--store", db, id, "--wait", "--timeout", "30"}, "waiting");
    // "slow" runs until released, so the job cannot have ended yet, nor its waiter returned.
    const auto shown = run_cli({"status", "--store", db, id});
    CHECK(shown.exit_code == 5);
    CHECK(shown.out.rfind("job slow: running", 0) == 0);
    CHECK_FALSE(waiting.has_ended());

    std::ofstream(release) << "go";
    CHECK(waiting.wait() == 0);
    CHECK(waiting.out().rfind("job slow: succeeded", 0) == 0);
    CHECK(waiting.err().empty());
    CHECK(runner.wait() == 0);
    CHECK(read_file(log) == "quick\nslow\n");
}

TEST_CASE("status --wait --timeout gives up on a job nobody runs: exit 5", "[cli][store][status]") {
    const auto db = scratch_path("jobs.db").string();
    const std::string id = submitted_id(run_cli({"submit", fixture_job("fail.json"), "--store", db}));

    const auto waited = run_cli({"status", "--store", db, id, "--wait", "--timeout", "0.5"});
    CHECK(waited.exit_code == 5);
    CHECK(waited.out.rfind("job fail: running", 0) == 0);
    CHECK(waited.err == "jobgraph: job " + id + " has not ended within 0.5 s\n");
    CHECK(waited.seconds >= 0.5);

    const auto no_wait = run_cli({"status", "--store", db, id, "--timeout", "1"});
    CHECK(no_wait.exit_code == 2);
    CHECK(contains(no_wait.err, "--timeout requires --wait"));
}

TEST_CASE("status --help states its exit statuses, 5 for a job that has not ended", "[cli][store][status]") {
    const auto help = run_cli({"status", "--help"});
    CHECK(help.exit_code == 0);
    CHECK(contains(help.out, "--wait"));
    CHECK(contains(help.out, "--timeout"));
    CHECK(contains(help.out, "5 the job has not ended"));
    const auto top = run_cli({"--help"});
    CHECK(contains(top.out, "submit"));
    CHECK(contains(top.out, "status only: 5 the job has not ended"));
}
