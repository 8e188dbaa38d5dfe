// The example jobs and every built-in service, run through the binary.

#include "cli_harness.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <limits>
#include <set>

using namespace cli_test;
using nlohmann::json;

namespace {

std::set<std::string> ids_of(const json& result) {
    std::set<std::string> ids;
    for (const auto& task : result.at("tasks")) ids.insert(task.at("id").get<std::string>());
    return ids;
}

void check_all_succeeded(const json& result, std::size_t expected_total) {
    CHECK(result.at("status") == "succeeded");
    CHECK(result.at("stats").at("total") == expected_total);
    CHECK(result.at("stats").at("succeeded") == expected_total);
    CHECK(result.at("tasks").size() == expected_total);
    for (const auto& task : result.at("tasks")) {
        INFO(task.at("id"));
        CHECK(task.at("status") == "succeeded");
    }
}

std::string stdout_of(const json& result, const std::string& id) {
    return task_of(result, id).at("output").at("stdout").get<std::string>();
}

// Timestamps of one format sort as text in time order.
std::string started(const json& result, const std::string& id) {
    return task_of(result, id).at("startedAt").get<std::string>();
}
std::string completed(const json& result, const std::string& id) {
    return task_of(result, id).at("completedAt").get<std::string>();
}

}  // namespace

TEST_CASE("job ai-planning: the planner spawns writes then a notifier spawns notifications", "[cli][jobs]") {
    CliRun run;
    const auto result = run_job_for_result(example_job("ai-planning.json"), &run);
    REQUIRE(run.exit_code == 0);
    check_all_succeeded(result, 8);
    CHECK(ids_of(result) == std::set<std::string>{"research", "planner", "write-summary", "write-proposal", "notify",
                                                  "notify-email", "notify-chat", "report"});
    CHECK(task_of(result, "planner").at("children") == json{"write-summary", "write-proposal", "notify"});
    CHECK(task_of(result, "notify").at("parentId") == "planner");
    CHECK(task_of(result, "notify").at("depth") == 1);
    CHECK(task_of(result, "notify").at("children") == json{"notify-email", "notify-chat"});
    CHECK(task_of(result, "notify-email").at("depth") == 2);
    CHECK(stdout_of(result, "notify-chat") == "#logistics: new proposal for region north is ready for review\n");
    // The notifier waited for both writes; the report waited for everything the planner spawned.
    CHECK(started(result, "notify") >= completed(result, "write-summary"));
    CHECK(started(result, "notify") >= completed(result, "write-proposal"));
    CHECK(started(result, "report") >= completed(result, "notify-email"));
    CHECK(task_of(result, "report").at("output") ==
          json{{"planner", {{"plan", "write a summary and a fix proposal, then notify the team"}}}});
}

TEST_CASE("job data-processing: fetch three transform/write chains gather", "[cli][jobs]") {
    CliRun run;
    const auto result = run_job_for_result(example_job("data-processing.json"), &run);
    REQUIRE(run.exit_code == 0);
    check_all_succeeded(result, 8);
    for (const std::string branch : {"a", "b", "c"}) {
        CHECK(started(result, "transform-" + branch) >= completed(result, "fetch"));
        CHECK(started(result, "write-" + branch) >= completed(result, "transform-" + branch));
        CHECK(started(result, "gather") >= completed(result, "write-" + branch));
    }
    const auto gathered = task_of(result, "gather").at("output");
    CHECK(gathered.size() == 3);
    CHECK(gathered.at("write-a").at("stdout") == "wrote prices_eur.parquet\n");
    CHECK(gathered.at("write-b").at("stdout") == "wrote orders_dedup.parquet\n");
    CHECK(gathered.at("write-c").at("stdout") == "wrote region_totals.csv\n");
    CHECK(gathered.at("write-c").at("exitCode") == 0);
}

TEST_CASE("job conditional-pipeline: a valid order takes process-store-notify", "[cli][jobs]") {
    CliRun run;
    const auto result = run_job_for_result(example_job("conditional-pipeline.json"), &run);
    REQUIRE(run.exit_code == 0);
    check_all_succeeded(result, 5);
    CHECK(ids_of(result) == std::set<std::string>{"receive", "validate", "process", "store", "notify"});
    CHECK(task_of(result, "validate").at("output").at("valid") == true);
    CHECK(task_of(result, "store").at("parentId") == "validate");
    CHECK(started(result, "store") >= completed(result, "process"));
    CHECK(started(result, "notify") >= completed(result, "store"));
}

TEST_CASE("job conditional-pipeline-invalid: a bad order takes log-error-notify-admin", "[cli][jobs]") {
    CliRun run;
    const auto result = run_job_for_result(example_job("conditional-pipeline-invalid.json"), &run);
    REQUIRE(run.exit_code == 0);
    check_all_succeeded(result, 4);
    CHECK(ids_of(result) == std::set<std::string>{"receive", "validate", "log-error", "notify-admin"});
    CHECK(task_of(result, "validate").at("output").at("valid") == false);
    CHECK(started(result, "notify-admin") >= completed(result, "log-error"));
}

TEST_CASE("job batch-migration: delete-old and migrate then import verify notify", "[cli][jobs]") {
    CliRun run;
    const auto result = run_job_for_result(example_job("batch-migration.json"), &run);
    REQUIRE(run.exit_code == 0);
    check_all_succeeded(result, 7);
    CHECK(task_of(result, "migrate").at("children") == json{"migrate-schema", "migrate-wait-for-locks"});
    // import waits for migrate's spawned children too (join semantics).
    CHECK(started(result, "import") >= completed(result, "delete-old"));
    CHECK(started(result, "import") >= completed(result, "migrate-wait-for-locks"));
    CHECK(started(result, "verify") >= completed(result, "import"));
    CHECK(started(result, "notify") >= completed(result, "verify"));
    CHECK(stdout_of(result, "notify") == "#data: nightly migration finished\n");
}

TEST_CASE("every built-in service does what cli.md says", "[cli][services]") {
    CliRun run;
    const auto result = run_job_for_result(fixture_job("every-service.json"), &run);
    REQUIRE(run.exit_code == 0);
    check_all_succeeded(result, 10);

    SECTION("core/echo returns its input, even keys the library would otherwise interpret") {
        CHECK(task_of(result, "echo").at("output") == json{{"city", "Lyon"}, {"childTasks", "not obeyed"}});
        CHECK(task_of(result, "echo").at("children").empty());
    }
    SECTION("core/sleep") { CHECK(task_of(result, "nap").at("output") == json{{"sleptMs", 5}}); }
    SECTION("shell/run with cwd, env, and both streams") {
        CHECK(task_of(result, "where").at("output") == json{{"exitCode", 0}, {"stdout", "/\n"}, {"stderr", ""}});
        CHECK(stdout_of(result, "greet") == "bonjour\n");
        CHECK(task_of(result, "both").at("output") == json{{"exitCode", 0}, {"stdout", "to-out\n"}, {"stderr", "to-err\n"}});
    }
    SECTION("core/spawn nests and outputs its \"output\" (or {})") {
        CHECK(task_of(result, "fan").at("output") == json{{"planned", 2}});
        CHECK(task_of(result, "fan").at("children") == json{"fan-0", "fan-1"});
        CHECK(task_of(result, "fan-1").at("output") == json::object());
        CHECK(task_of(result, "fan-1-0").at("depth") == 2);
        CHECK(task_of(result, "fan-1-0").at("output") == json{{"n", 2}});
    }
    SECTION("core/gather collects every declared dependency") {
        const auto gathered = task_of(result, "gather").at("output");
        CHECK(gathered.size() == 4);
        CHECK(gathered.at("echo") == task_of(result, "echo").at("output"));
        CHECK(gathered.at("nap") == json{{"sleptMs", 5}});
        CHECK(gathered.at("where").at("stdout") == "/\n");
        CHECK(gathered.at("fan") == json{{"planned", 2}});
    }
}

TEST_CASE("core/fail fails its task - dependents are aborted independent work goes on", "[cli][services]") {
    CliRun run;
    const auto result = run_job_for_result(fixture_job("fail.json"), &run);
    CHECK(run.exit_code == 1);
    CHECK(result.at("status") == "failed");
    CHECK(task_of(result, "broken").at("status") == "failed");
    CHECK(task_of(result, "broken").at("output") == json{{"error", "disk quota exceeded"}});
    CHECK(task_of(result, "after-broken").at("status") == "aborted");
    CHECK(task_of(result, "after-broken").at("output") == json{{"error", "Aborted: dependency broken failed"}});
    CHECK(task_of(result, "independent").at("status") == "succeeded");
    CHECK(result.at("stats").at("failed") == 1);
    CHECK(result.at("stats").at("aborted") == 1);
}

TEST_CASE("shell/run fails on a non-zero exit and on a program that does not exist", "[cli][services][shell]") {
    CliRun run;
    const auto result = run_job_for_result(fixture_job("shell-fail.json"), &run);
    CHECK(run.exit_code == 1);
    CHECK(result.at("stats").at("failed") == 3);
    const auto error_of = [&](const std::string& id) {
        const auto task = task_of(result, id);
        CHECK(task.at("status") == "failed");
        return task.at("output").at("error").get<std::string>();
    };
    CHECK(error_of("list").rfind("ls exited with status 2: ls: cannot access '/no/such/directory'", 0) == 0);
    CHECK(error_of("missing") == "cannot run no-such-program-jobgraph: No such file or directory");
    CHECK(error_of("exit3") == "sh exited with status 3");
}

TEST_CASE("a stop request kills the running program and aborts its task", "[cli][services][shell][stop]") {
    CliRun run;
    const auto result = run_job_for_result(fixture_job("stop.json"), &run);
    CHECK(run.exit_code == 1);
    // Generous bound: `sleep 10` would take 10 s if it were not killed.
    CHECK(run.seconds < 5.0);
    CHECK(result.at("status") == "failed");
    CHECK(result.at("errorMessage").get<std::string>().rfind("Job execution timeout: 200ms limit exceeded.", 0) == 0);
    CHECK(task_of(result, "long").at("status") == "aborted");
    CHECK(task_of(result, "long").at("output") == json{{"error", "Stopped on request: sleep was killed"}});
    CHECK(task_of(result, "nap").at("status") == "aborted");
    CHECK(task_of(result, "after").at("status") == "aborted");
    CHECK(result.at("stats").at("aborted") == 3);
}

TEST_CASE("core/sleep with the largest ms sleeps until the job stops it", "[cli][services]") {
    const auto job = scratch_path("forever.json");
    std::ofstream(job) << json{{"name", "forever"},
                               {"timeout", 300},
                               {"tasks",
                                {{{"id", "nap"},
                                  {"service", "core"},
                                  {"command", "sleep"},
                                  {"input", {{"ms", std::numeric_limits<std::int64_t>::max()}}}}}}}
                              .dump();
    CliRun run;
    const auto result = run_job_for_result(job.string(), &run);
    CHECK(run.exit_code == 1);
    CHECK(run.seconds >= 0.3);
    CHECK(run.seconds < 10.0);
    CHECK(task_of(result, "nap").at("status") == "aborted");
    CHECK(result.at("errorMessage").get<std::string>().rfind("Job execution timeout: 300ms limit exceeded", 0) == 0);
}
