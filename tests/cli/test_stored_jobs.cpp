// list, show, cancel, approve with task ids, one runner per stored job, and Ctrl-C
// (docs/runner.md, "Stored jobs").

#include "stored_job_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <regex>

#include <signal.h>

using namespace cli_test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Alive, and not a zombie: the runner's orphans wait for whoever adopts them to reap them.
bool process_is_running(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    const std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto after_name = text.rfind(')');
    return after_name != std::string::npos && text.substr(after_name + 2, 1) != "Z";
}

}  // namespace

TEST_CASE("list shows every stored job newest first, as a table or JSON", "[cli][store][list]") {
    const auto db = scratch_path("jobs.db").string();
    const auto failed = run_cli({"run", fixture_job("fail.json"), "--store", db, "--quiet"});
    REQUIRE(failed.exit_code == 1);
    const auto planned = run_cli({"run", fixture_job("approval.json"), "--store", db, "--quiet"});
    REQUIRE(planned.exit_code == 3);
    const std::string failed_id = job_id_of(failed.err);
    const std::string planned_id = job_id_of(planned.err);

    const auto table = run_cli({"list", db});
    CHECK(table.exit_code == 0);
    CHECK(table.err.empty());
    const std::regex header(R"(^ID +NAME +STATUS +TASKS +CREATED +UPDATED\n)");
    CHECK(std::regex_search(table.out, header));
    const auto planned_line = table.out.find(planned_id + "  approval  awaiting_approval  4/4  ");
    const auto failed_line = table.out.find(failed_id + "  fail      failed             3/3  ");
    CHECK(planned_line != std::string::npos);
    CHECK(failed_line != std::string::npos);
    CHECK(planned_line < failed_line);
    const std::regex times(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\n)");
    CHECK(std::distance(std::sregex_iterator(table.out.begin(), table.out.end(), times), std::sregex_iterator()) == 2);

    const auto listed = run_cli({"list", db, "--json"});
    CHECK(listed.exit_code == 0);
    const json jobs = json::parse(listed.out);
    REQUIRE(jobs.size() == 2);
    CHECK(jobs[0].at("id") == planned_id);
    CHECK(jobs[0].at("name") == "approval");
    CHECK(jobs[0].at("status") == "awaiting_approval");
    CHECK(jobs[0].at("done") == 4);
    CHECK(jobs[0].at("total") == 4);
    CHECK(jobs[1].at("id") == failed_id);
    CHECK(jobs[1].at("status") == "failed");
    for (const auto& job : jobs) {
        CHECK(job.size() == 7);
        CHECK(job.at("updatedAt").get<std::string>() >= job.at("createdAt").get<std::string>());
    }

    SECTION("a store that does not exist: exit 2, and no file is made") {
        const auto missing = scratch_path("missing.db");
        const auto run = run_cli({"list", missing.string()});
        CHECK(run.exit_code == 2);
        CHECK(run.err == "jobgraph: " + missing.string() + ": no such job store\n");
        CHECK_FALSE(std::filesystem::exists(missing));
    }
}

TEST_CASE("show prints a stored job as it stands and runs nothing", "[cli][store][show]") {
    const auto db = scratch_path("jobs.db").string();
    const auto log = scratch_path("steps.log");

    SECTION("a finished job: its stored result, exit 0 whatever its status") {
        const auto first = run_cli({"run", fixture_job("fail.json"), "--store", db, "--json", "-", "--quiet"});
        REQUIRE(first.exit_code == 1);
        const auto shown = run_cli({"show", db, job_id_of(first.err), "--json", "-"});
        CHECK(shown.exit_code == 0);
        CHECK(json::parse(shown.out) == json::parse(first.out));
        CHECK(contains(shown.err, "job fail: failed"));  // the summary goes to stderr when stdout is taken
        const auto dot = run_cli({"show", db, job_id_of(first.err), "--dot", "-"});
        CHECK(dot.exit_code == 0);
        CHECK(dot.out.rfind("digraph", 0) == 0);
    }
    SECTION("a job whose runner died: running, its records so far") {
        const std::string id = killed_mid_run(db, log);
        const auto shown = run_cli({"show", db, id});
        CHECK(shown.exit_code == 0);
        CHECK(shown.out.rfind("job slow: running", 0) == 0);
        const auto as_json = run_cli({"show", db, id, "--json", "-"});
        const json result = json::parse(as_json.out);
        CHECK(result.at("status") == "running");
        CHECK(task_of(result, "quick").at("status") == "succeeded");
        CHECK(task_of(result, "slow").at("status") == "started");
        CHECK(result.at("stats").at("total") == 2);
        CHECK(result.at("stats").at("succeeded") == 1);
        CHECK(read_file(log) == "quick\nslow\n");  // nothing ran again
        const json listed = json::parse(run_cli({"list", db, "--json"}).out);
        CHECK(listed[0].at("status") == "pending");  // its holder is gone
        CHECK(listed[0].at("done") == 1);
    }
    SECTION("an unknown job: exit 2") {
        REQUIRE(run_cli({"run", fixture_job("fail.json"), "--store", db, "--quiet"}).exit_code == 1);
        const auto shown = run_cli({"show", db, "job-000000000000"});
        CHECK(shown.exit_code == 2);
        CHECK(shown.err == "jobgraph: " + db + ": no job \"job-000000000000\" in this store\n");
    }
}

TEST_CASE("show and list see a job while another runner runs it", "[cli][store][show]") {
    const auto db = scratch_path("jobs.db").string();
    const auto log = scratch_path("steps.log");
    const auto release = scratch_path("release");
    BackgroundRun runner({"run", write_slow_job(log, release), "--store", db, "--quiet"}, "running");
    REQUIRE(eventually([&] { return contains(file_or_empty(log), "slow"); }));
    const std::string id = job_id_of(runner.err());

    const auto shown = run_cli({"show", db, id, "--json", "-"});
    CHECK(shown.exit_code == 0);
    CHECK(json::parse(shown.out).at("status") == "running");
    CHECK(task_of(json::parse(shown.out), "slow").at("status") == "started");

    std::ofstream(release) << "go";
    CHECK(runner.wait() == 0);
    CHECK(read_file(log) == "quick\nslow\n");
}

TEST_CASE("list marks a job held by a live runner as running", "[cli][store][list]") {
    const auto db = scratch_path("jobs.db").string();
    const auto log = scratch_path("steps.log");
    const auto release = scratch_path("release");
    BackgroundRun runner({"run", write_slow_job(log, release), "--store", db, "--quiet"}, "running");
    REQUIRE(eventually([&] { return contains(file_or_empty(log), "slow"); }));
    const json listed = json::parse(run_cli({"list", db, "--json"}).out);
    std::ofstream(release) << "go";
    CHECK(runner.wait() == 0);
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].at("status") == "running");
    CHECK(listed[0].at("done") == 1);
    CHECK(json::parse(run_cli({"list", db, "--json"}).out)[0].at("status") == "succeeded");
}

TEST_CASE("a second runner of a stored job is refused with exit 2, naming the holder", "[cli][store][lease]") {
    const auto db = scratch_path("jobs.db").string();
    const auto log = scratch_path("steps.log");
    const auto release = scratch_path("release");
    BackgroundRun runner({"run", write_slow_job(log, release), "--store", db, "--quiet"}, "first");
    REQUIRE(eventually([&] { return contains(file_or_empty(log), "slow"); }));
    const std::string id = job_id_of(runner.err());

    const auto second = run_cli({"resume", db, id, "--quiet"});
    const auto approve = run_cli({"approve", db, id, "--quiet"});
    std::ofstream(release) << "go";
    CHECK(runner.wait() == 0);

    CHECK(second.exit_code == 2);
    CHECK(contains(second.err, "Job " + id + " is being run by another process (pid " + std::to_string(runner.pid()) +
                                   " on host "));
    CHECK(approve.exit_code == 2);
    CHECK(contains(approve.err, "is being run by another process (pid " + std::to_string(runner.pid())));
    CHECK(read_file(log) == "quick\nslow\n");  // neither ran anything
}

TEST_CASE("cancel of a job that has ended: exit 1, nothing changes", "[cli][store][cancel]") {
    const auto db = scratch_path("jobs.db").string();
    const auto first = run_cli({"run", fixture_job("fail.json"), "--store", db, "--json", "-", "--quiet"});
    REQUIRE(first.exit_code == 1);
    const std::string id = job_id_of(first.err);
    const auto cancelled = run_cli({"cancel", db, id});
    CHECK(cancelled.exit_code == 1);
    CHECK(cancelled.err == "jobgraph: job " + id + " had already ended (failed); nothing to cancel\n");
    const auto again = run_cli({"resume", db, id, "--json", "-", "--quiet"});
    CHECK(json::parse(again.out) == json::parse(first.out));

    const auto unknown = run_cli({"cancel", db, "job-000000000000"});
    CHECK(unknown.exit_code == 2);
    CHECK(unknown.err == "jobgraph: " + db + ": no job \"job-000000000000\" in this store\n");
}

TEST_CASE("cancel of a job nobody runs cancels it at once, and resume then exits 4", "[cli][store][cancel]") {
    const auto db = scratch_path("jobs.db").string();
    const auto log = scratch_path("steps.log");
    const std::string id = killed_mid_run(db, log);

    const auto cancelled = run_cli({"cancel", db, id, "--reason", "no longer needed"});
    CHECK(cancelled.exit_code == 0);
    CHECK(cancelled.out == "job " + id + ": cancelled\n");
    CHECK(read_file(log) == "quick\nslow\n");  // no handler ran

    const auto resumed = run_cli({"resume", db, id, "--json", "-"});
    CHECK(resumed.exit_code == 4);
    const json result = json::parse(resumed.out);
    CHECK(result.at("status") == "cancelled");
    CHECK(result.at("errorMessage") == "Job cancelled: no longer needed");
    CHECK(task_of(result, "quick").at("status") == "succeeded");
    CHECK(task_of(result, "slow").at("status") == "aborted");
    CHECK(task_of(result, "slow").at("output") == json{{"error", "Job cancelled: no longer needed"}});
    CHECK(read_file(log) == "quick\nslow\n");
    CHECK(json::parse(run_cli({"list", db, "--json"}).out)[0].at("status") == "cancelled");

    const auto twice = run_cli({"cancel", db, id});
    CHECK(twice.exit_code == 0);
    CHECK(twice.out == "job " + id + " was cancelled already\n");
}

TEST_CASE("cancel of a running job: its runner stops within a second and exits 4", "[cli][store][cancel]") {
    const auto db = scratch_path("jobs.db").string();
    const auto log = scratch_path("steps.log");
    BackgroundRun runner({"run", write_slow_job(log, scratch_path("never-released")), "--store", db, "--json", "-"},
                         "cancelled");
    REQUIRE(eventually([&] { return contains(file_or_empty(log), "slow"); }));
    const std::string id = job_id_of(runner.err());

    const auto cancel = run_cli({"cancel", db, id, "--reason", "operator"});
    CHECK(cancel.exit_code == 0);
    CHECK(contains(cancel.out, "cancel requested"));
    const auto asked = std::chrono::steady_clock::now();
    CHECK(runner.wait() == 4);
    // Bound loosely: the runner checks twice a second; "slow" would otherwise wait 30 s.
    CHECK(std::chrono::steady_clock::now() - asked < 15s);
    const json result = json::parse(runner.out());
    CHECK(result.at("status") == "cancelled");
    CHECK(result.at("errorMessage") == "Job cancelled: operator");
    CHECK(task_of(result, "slow").at("status") == "aborted");
}

TEST_CASE("approve with task ids approves those, --reject aborts the rest", "[cli][store][plan]") {
    const auto db = scratch_path("jobs.db").string();
    const auto planned = run_cli({"run", fixture_job("approval.json"), "--store", db, "--quiet"});
    REQUIRE(planned.exit_code == 3);
    const std::string id = job_id_of(planned.err);

    SECTION("approving deploy approves announce too, which waits only on it") {
        const auto approved = run_cli({"approve", db, id, "deploy", "--json", "-"});
        CHECK(approved.exit_code == 0);
        CHECK(approved.err.rfind("approved 2 planned tasks\n", 0) == 0);
        const json result = json::parse(approved.out);
        CHECK(result.at("status") == "succeeded");
        CHECK(task_of(result, "announce").at("status") == "succeeded");
    }
    SECTION("rejecting deploy aborts it and announce; the job fails") {
        const auto rejected =
            run_cli({"approve", db, id, "--reject", "deploy", "--reason", "not today", "--json", "-"});
        CHECK(rejected.exit_code == 1);
        CHECK(rejected.err.rfind("approved 0 planned tasks, rejected 1\n", 0) == 0);
        const json result = json::parse(rejected.out);
        CHECK(result.at("status") == "failed");
        CHECK(task_of(result, "deploy").at("status") == "aborted");
        CHECK(task_of(result, "deploy").at("output") == json{{"error", "Rejected: not today"}});
        CHECK(task_of(result, "deploy").at("history").back().at("reason") == "Rejected: not today");
        CHECK(task_of(result, "announce").at("status") == "aborted");
        CHECK(task_of(result, "announce").at("output") == json{{"error", "Aborted: dependency deploy failed"}});
        CHECK(task_of(result, "look").at("status") == "succeeded");
    }
    SECTION("ids that are not planned tasks: exit 2 naming them, nothing changes") {
        const auto wrong = run_cli({"approve", db, id, "deploy", "look", "nope"});
        CHECK(wrong.exit_code == 2);
        CHECK(contains(wrong.err, "Not planned tasks of job " + id + ": look, nope"));
        const auto still = run_cli({"resume", db, id, "--json", "-", "--quiet"});
        CHECK(still.exit_code == 3);
        CHECK(task_of(json::parse(still.out), "deploy").at("status") == "planned");
    }
    SECTION("--reason needs --reject") {
        const auto usage = run_cli({"approve", db, id, "--reason", "why"});
        CHECK(usage.exit_code == 2);
    }
}

TEST_CASE("Ctrl-C interrupts a run: summary, exit 130, and the stored job resumes", "[cli][store][signal]") {
    const auto db = scratch_path("jobs.db").string();
    const auto log = scratch_path("steps.log");
    BackgroundRun runner({"run", write_slow_job(log, scratch_path("never-released")), "--store", db}, "interrupted");
    REQUIRE(eventually([&] { return contains(file_or_empty(log), "slow"); }));
    const std::string id = job_id_of(runner.err());
    runner.signal(SIGINT);
    CHECK(runner.wait() == 130);
    CHECK(contains(runner.out(), "job slow: interrupted"));
    CHECK(contains(runner.err(), "to go on: jobgraph resume " + db + " " + id));
    CHECK(json::parse(run_cli({"list", db, "--json"}).out)[0].at("status") == "interrupted");

    const auto resumed = run_cli({"resume", db, id, "--json", "-"});
    CHECK(resumed.exit_code == 0);
    const json result = json::parse(resumed.out);
    CHECK(result.at("status") == "succeeded");
    CHECK(task_of(result, "quick").at("attempts") == 1);
    CHECK(read_file(log) == "quick\nslow\nslow\n");
}

TEST_CASE("SIGTERM interrupts a run without a store too: exit 130", "[cli][signal]") {
    const auto log = scratch_path("steps.log");
    BackgroundRun runner({"run", write_slow_job(log, scratch_path("never-released"))}, "terminated");
    REQUIRE(eventually([&] { return contains(file_or_empty(log), "slow"); }));
    runner.signal(SIGTERM);
    CHECK(runner.wait() == 130);
    CHECK(contains(runner.out(), "job slow: interrupted"));
}

TEST_CASE("a second Ctrl-C ends the runner and its shell/run programs at once", "[cli][signal]") {
    const auto log = scratch_path("steps.log");
    const auto pid_file = scratch_path("program.pid");
    // The program ignores SIGTERM, so only SIGKILL to its group ends it.
    const json job = {{"name", "stubborn"},
                      {"tasks",
                       {{{"id", "stubborn"},
                         {"service", "shell"},
                         {"command", "run"},
                         {"input",
                          {{"argv", {"sh", "-c", "trap '' TERM; echo $$ > \"$PIDFILE\"; while :; do sleep 0.1; done"}},
                           {"env", {{"PIDFILE", pid_file.string()}}}}}}}}};
    const auto job_path = scratch_path("stubborn.json");
    std::ofstream(job_path) << job.dump();
    BackgroundRun runner({"run", job_path.string()}, "stubborn");
    REQUIRE(eventually([&] { return contains(file_or_empty(pid_file), "\n"); }));
    const pid_t program = std::stoi(read_file(pid_file));
    // Signals of one kind are not queued: the second is sent once the first was taken.
    runner.signal(SIGINT);
    REQUIRE(eventually([&] { return contains(runner.err(), "once more to end at once"); }));
    runner.signal(SIGINT);
    // Exit 130 either way: at once, or (should the interrupted run beat the second signal by
    // killing the program itself) after the summary.
    CHECK(runner.wait() == 130);
    CHECK(eventually([&] { return !process_is_running(program); }, 10s));
}

TEST_CASE("A runner killed while a task waits for its retry: resume keeps the due time", "[cli][store][retry]") {
    const auto db = scratch_path("retry-kill.db").string();
    const auto marker = scratch_path("retry-kill-marker");
    std::filesystem::remove(marker);
    // Fails once (leaving the marker), then succeeds; the retry is due 3 s after the failure.
    const json job{{"name", "retry-kill"},
                   {"tasks",
                    {{{"id", "flaky"},
                      {"service", "shell"},
                      {"command", "run"},
                      {"retry", {{"maxAttempts", 2}, {"delay", 3000}, {"jitter", false}}},
                      {"input",
                       {{"argv",
                         {"sh", "-c", "if [ -e \"$1\" ]; then echo second; else touch \"$1\"; exit 1; fi", "sh",
                          marker.string()}}}}}}}};
    const auto path = scratch_path("retry-kill.json");
    std::ofstream(path) << job.dump();

    BackgroundRun runner({"run", path.string(), "--store", db, "--quiet"}, "retry-kill");
    std::string id;
    REQUIRE(eventually([&] {
        id = job_id_of(runner.err());
        if (id.empty()) return false;
        const auto shown = run_cli({"show", db, id, "--json", "-"});
        return shown.exit_code == 0 && task_of(json::parse(shown.out), "flaky").at("status") == "retrying";
    }));
    runner.signal(SIGKILL);
    REQUIRE(runner.wait() == 128 + SIGKILL);

    const auto resumed = run_cli({"resume", db, id, "--json", "-", "--quiet"});
    REQUIRE(resumed.exit_code == 0);
    const json flaky = task_of(json::parse(resumed.out), "flaky");
    CHECK(flaky.at("status") == "succeeded");
    CHECK(flaky.at("attempts") == 2);
    CHECK(flaky.at("output").at("stdout") == "second\n");
    // The second attempt started no earlier than the due time the first run committed.
    std::string failed_at;
    std::string second_start;
    for (const auto& entry : flaky.at("history")) {
        if (entry.at("status") == "retrying") {
            failed_at = entry.at("at");
            CHECK(entry.at("reason").get<std::string>().ends_with("; next attempt in 3000 ms"));
        }
        if (entry.at("status") == "started") second_start = entry.at("at");
    }
    REQUIRE_FALSE(failed_at.empty());
    const auto seconds_of = [](const std::string& at) {  // "...THH:MM:SS.ffffffZ" within one day
        return std::stoi(at.substr(11, 2)) * 3600 + std::stoi(at.substr(14, 2)) * 60 + std::stod(at.substr(17, 9));
    };
    double gap = seconds_of(second_start) - seconds_of(failed_at);
    if (gap < -43200) gap += 86400;  // the run crossed midnight
    CHECK(gap >= 3.0);
}
