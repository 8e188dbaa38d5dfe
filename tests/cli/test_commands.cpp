// The runner's commands, flags and exit statuses (docs/runner.md).

#include "cli_harness.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <regex>

using namespace cli_test;

TEST_CASE("exit status 0: a job that succeeds", "[cli][exit]") {
    const auto run = run_cli({"run", example_job("data-processing.json")});
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("job data-processing: succeeded") != std::string::npos);
}

TEST_CASE("exit status 1: a job that fails", "[cli][exit]") {
    const auto run = run_cli({"run", fixture_job("fail.json")});
    CHECK(run.exit_code == 1);
    CHECK(run.out.find("job fail: failed") != std::string::npos);
    CHECK(run.out.find("disk quota exceeded") != std::string::npos);
}

TEST_CASE("exit status 3: a job awaiting approval", "[cli][exit]") {
    CliRun run;
    const auto result = run_job_for_result(fixture_job("approval.json"), &run);
    CHECK(run.exit_code == 3);
    CHECK(result.at("status") == "awaiting_approval");
    CHECK(task_of(result, "plan").at("status") == "succeeded");
    CHECK(task_of(result, "look").at("status") == "succeeded");
    // shell/run is not allowed in plan mode, and what depends on it is planned too.
    CHECK(task_of(result, "deploy").at("status") == "planned");
    CHECK(task_of(result, "announce").at("status") == "planned");
    CHECK(result.at("stats").at("planned") == 2);
}

TEST_CASE("exit status 2: bad usage", "[cli][exit]") {
    SECTION("no command") {
        const auto run = run_cli({});
        CHECK(run.exit_code == 2);
        CHECK(run.err.find("A subcommand is required") != std::string::npos);
    }
    SECTION("unknown command") {
        CHECK(run_cli({"launch", example_job("data-processing.json")}).exit_code == 2);
    }
    SECTION("run without a job file") {
        const auto run = run_cli({"run"});
        CHECK(run.exit_code == 2);
        CHECK(run.err.find("job is required") != std::string::npos);
    }
    SECTION("unknown flag") {
        CHECK(run_cli({"run", example_job("data-processing.json"), "--fast"}).exit_code == 2);
    }
    SECTION("zero workers") {
        const auto run = run_cli({"run", example_job("data-processing.json"), "--workers", "0"});
        CHECK(run.exit_code == 2);
        CHECK(run.err.find("--workers") != std::string::npos);
    }
    SECTION("a job file that does not exist") {
        const auto run = run_cli({"run", "/no/such/job.json"});
        CHECK(run.exit_code == 2);
        CHECK(run.err == "jobgraph: /no/such/job.json: cannot read the job file: No such file or directory\n");
    }
}

TEST_CASE("help exits 0 and lists the commands", "[cli][exit]") {
    const auto run = run_cli({"--help"});
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("run") != std::string::npos);
    CHECK(run.out.find("validate") != std::string::npos);
    CHECK(run.out.find("services") != std::string::npos);
    CHECK(run.out.find("resume") != std::string::npos);
    CHECK(run.out.find("approve") != std::string::npos);
    CHECK(run.out.find("list") != std::string::npos);
    CHECK(run.out.find("show") != std::string::npos);
    CHECK(run.out.find("cancel") != std::string::npos);
    CHECK(run.out.find("4 cancelled, 130 interrupted") != std::string::npos);
}

TEST_CASE("services lists every built-in with its plan-mode flag", "[cli][services]") {
    const auto run = run_cli({"services"});
    REQUIRE(run.exit_code == 0);
    const std::vector<std::pair<std::string, std::string>> expected{
        {"core/echo", "allowed"},  {"core/fail", "allowed"},  {"core/gather", "allowed"},
        {"core/sleep", "allowed"}, {"core/spawn", "allowed"},
#ifdef JOBGRAPH_WITH_CURL
        {"http/request", "not allowed"}, {"llm/chat", "allowed"},
#endif
        {"shell/run", "not allowed"},
    };
    std::istringstream lines(run.out);
    std::string line;
    std::getline(lines, line);
    CHECK(line.rfind("SERVICE", 0) == 0);
    for (const auto& [pair, plan_mode] : expected) {
        REQUIRE(std::getline(lines, line));
        CHECK(line.rfind(pair + " ", 0) == 0);
        // After the name and padding: the plan-mode column, then a description.
        const auto rest = line.substr(line.find_first_not_of(' ', pair.size()));
        CHECK(rest.rfind(plan_mode + "  ", 0) == 0);
        CHECK(rest.size() > plan_mode.size() + 10);
    }
    CHECK_FALSE(std::getline(lines, line));
}

TEST_CASE("validate checks a file and runs nothing", "[cli][validate]") {
    SECTION("a valid job") {
        const auto run = run_cli({"validate", example_job("ai-planning.json")});
        CHECK(run.exit_code == 0);
        CHECK(run.out == example_job("ai-planning.json") + ": valid job \"ai-planning\" with 1 initial task\n");
    }
    SECTION("nothing runs: a job that would fail validates fine") {
        const auto run = run_cli({"validate", fixture_job("fail.json")});
        CHECK(run.exit_code == 0);
        CHECK(run.out.find("disk quota") == std::string::npos);
    }
    SECTION("an invalid job") {
        const auto run = run_cli({"validate", fixture_job("cycle.json")});
        CHECK(run.exit_code == 2);
        CHECK(run.err.find("Circular dependencies detected") != std::string::npos);
    }
}

TEST_CASE("run --quiet prints nothing - the exit status still tells", "[cli][output]") {
    const auto ok = run_cli({"run", example_job("batch-migration.json"), "--quiet"});
    CHECK(ok.exit_code == 0);
    CHECK(ok.out.empty());
    CHECK(ok.err.empty());
    const auto failed = run_cli({"run", fixture_job("fail.json"), "--quiet"});
    CHECK(failed.exit_code == 1);
    CHECK(failed.out.empty());
}

TEST_CASE("without a terminal there is no progress line only the summary", "[cli][output]") {
    const auto run = run_cli({"run", example_job("data-processing.json")});
    REQUIRE(run.exit_code == 0);
    CHECK(run.err.empty());
    CHECK(run.out.find('\r') == std::string::npos);
    CHECK(run.out.find("tasks: 8 total, 8 succeeded, 0 failed, 0 aborted, 0 planned, 0 pending") != std::string::npos);
    CHECK(run.out.find("TASK") != std::string::npos);
    CHECK(run.out.find("write-duplicates") != std::string::npos);
    CHECK(run.out.find("duplicates.txt: ") != std::string::npos);
}

TEST_CASE("on a terminal a progress line counts the tasks, then is erased for the summary", "[cli][output]") {
    // quick and broken end at the start; slow runs 600 ms, and the line is redrawn every 200 ms.
    const auto run = run_cli_on_terminal({"run", fixture_job("progress.json")});
    CHECK(run.exit_code == 1);
    // Each drawing goes back to the line's start and clears it.
    CHECK(run.err.rfind("\r\033[2Kprogress [0/0] running 0, failed 0, 0.0s", 0) == 0);
    CHECK(std::regex_search(run.err, std::regex("\r\x1b\\[2Kprogress \\[2/3\\] running 1, failed 1, [0-9]+\\.[0-9]s")));
    CHECK(run.err.ends_with("s\r\033[2K"));  // erased as the job ends
    CHECK(run.out.find("tasks: 3 total, 2 succeeded, 1 failed, 0 aborted, 0 planned, 0 pending") != std::string::npos);
    CHECK(run.out.find('\r') == std::string::npos);

    const auto quiet = run_cli_on_terminal({"run", fixture_job("progress.json"), "--quiet"});
    CHECK(quiet.exit_code == 1);
    CHECK(quiet.err.empty());
}

TEST_CASE("run --workers 1 runs the same job to the same outcome", "[cli][output]") {
    CliRun run;
    const auto result = run_job_for_result(fixture_job("nested-spawn.json"), &run, {"--workers", "1"});
    CHECK(run.exit_code == 0);
    CHECK(result.at("stats").at("succeeded") == 8);
}

TEST_CASE("a --json file that cannot be written: said on stderr, and the job's own status wins", "[cli][exit]") {
    const auto unwritable = (scratch_path("no-such-directory") / "result.json").string();
    SECTION("a failed job still exits 1") {
        const auto run = run_cli({"run", fixture_job("fail.json"), "--json", unwritable, "--quiet"});
        CHECK(run.exit_code == 1);
        CHECK(run.err == "jobgraph: " + unwritable + ": cannot write the result JSON\n");
    }
    SECTION("a job awaiting approval still exits 3") {
        const auto run = run_cli({"run", fixture_job("approval.json"), "--dot", unwritable, "--quiet"});
        CHECK(run.exit_code == 3);
        CHECK(run.err == "jobgraph: " + unwritable + ": cannot write the DOT graph\n");
    }
    SECTION("a succeeded job exits 2: what was asked for is missing") {
        const auto run = run_cli({"run", example_job("batch-migration.json"), "--json", unwritable, "--quiet"});
        CHECK(run.exit_code == 2);
        CHECK(run.err == "jobgraph: " + unwritable + ": cannot write the result JSON\n");
    }
}

TEST_CASE("a store that fails during the run: exit 1, and the message names the store even with --quiet",
          "[cli][exit][store]") {
    // The task removes its own job from the store (with the sqlite3 tool), so the runner's next write there fails.
    const auto db = scratch_path("jobs.db").string();
    const std::vector<std::string> argv{"sqlite3", "-cmd", ".timeout 5000", db, "DELETE FROM tasks; DELETE FROM jobs;"};
    const nlohmann::json spec{
        {"name", "unstore"},
        {"tasks", {{{"id", "remove-the-job"}, {"service", "shell"}, {"command", "run"}, {"input", {{"argv", argv}}}}}}};
    const auto job = scratch_path("unstore.json");
    std::ofstream(job) << spec.dump();
    const auto run = run_cli({"run", job.string(), "--store", db, "--quiet"});
    CHECK(run.exit_code == 1);
    CHECK(run.out.empty());
    INFO(run.err);
    const auto message = run.err.find("\njobgraph: Store failed: ");
    REQUIRE(message != std::string::npos);
    CHECK(run.err.find(db, message) != std::string::npos);
}

TEST_CASE("with --quiet a job-level error is still printed on stderr", "[cli][exit]") {
    const auto run = run_cli({"run", fixture_job("stop.json"), "--quiet"});
    CHECK(run.exit_code == 1);
    CHECK(run.out.empty());
    CHECK(run.err.rfind("jobgraph: Job execution timeout: 200ms limit exceeded", 0) == 0);
}
