// run --store, resume and approve: jobs kept in a SQLite file (docs/semantics.md).

#include "cli_harness.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace cli_test;
using nlohmann::json;

namespace {

// The id from the "job id: <id>" line that run --store prints on stderr.
std::string job_id_of(const CliRun& run) {
    const std::string prefix = "job id: ";
    const auto at = run.err.find(prefix);
    if (at == std::string::npos) return {};
    const auto end = run.err.find('\n', at);
    return run.err.substr(at + prefix.size(), end - at - prefix.size());
}

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

}  // namespace

TEST_CASE("run --store prints a job id and the store then holds the finished job", "[cli][store]") {
    const auto db = scratch_path("jobs.db").string();
    const auto log = scratch_path("append.log");
    const auto job = write_append_job(log);

    const auto first = run_cli({"run", job, "--store", db, "--json", "-"});
    REQUIRE(first.exit_code == 0);
    const std::string id = job_id_of(first);
    REQUIRE_FALSE(id.empty());
    CHECK(first.err.rfind("job id: " + id + "\n", 0) == 0);  // before the summary
    CHECK(first.err.find("job append: succeeded") != std::string::npos);
    const json result = json::parse(first.out);  // stdout is the result alone
    CHECK(result.at("status") == "succeeded");
    CHECK(task_of(result, "append").at("output").at("stdout") == "appended\n");
    CHECK(read_file(log) == "ran\n");

    SECTION("resume prints the stored result and runs nothing") {
        const auto again = run_cli({"resume", db, id, "--json", "-"});
        CHECK(again.exit_code == 0);
        CHECK(json::parse(again.out) == result);
        CHECK(again.err.find("job " + id + " had already ended (succeeded)") != std::string::npos);
        CHECK(again.err.find("job append: succeeded") != std::string::npos);
        CHECK(read_file(log) == "ran\n");
    }
    SECTION("resume --quiet prints nothing but the result file") {
        const auto json_path = scratch_path("resumed.json");
        const auto again = run_cli({"resume", db, id, "--quiet", "--json", json_path.string()});
        CHECK(again.exit_code == 0);
        CHECK(again.out.empty());
        CHECK(again.err.empty());
        CHECK(json::parse(read_file(json_path)) == result);
        CHECK(read_file(log) == "ran\n");
    }
    SECTION("a second run --store of the same file is a new job in the same store") {
        const auto second = run_cli({"run", job, "--store", db, "--quiet"});
        CHECK(second.exit_code == 0);
        CHECK(second.out.empty());
        CHECK(second.err == "job id: " + job_id_of(second) + "\n");  // --quiet keeps the id
        CHECK(job_id_of(second) != id);
        CHECK(read_file(log) == "ran\nran\n");
        CHECK(run_cli({"resume", db, id, "--quiet"}).exit_code == 0);
        CHECK(read_file(log) == "ran\nran\n");
    }
}

TEST_CASE("a stored job whose runner was killed resumes: finished tasks are not run again", "[cli][store]") {
    const auto db = scratch_path("jobs.db").string();
    const auto log = scratch_path("steps.log");
    // "first" logs once; "second" logs each attempt, and its first attempt hangs until killed.
    const auto step = [&](const std::string& id, const std::string& script, json depends_on) {
        return json{{"id", id},
                    {"service", "shell"},
                    {"command", "run"},
                    {"dependsOn", std::move(depends_on)},
                    {"input", {{"argv", {"sh", "-c", script}}, {"env", {{"LOG", log.string()}}}}}};
    };
    const json job = {
        {"name", "killed"},
        {"tasks",
         {step("first", "echo first >> \"$LOG\"", json::array()),
          step("second", "echo second >> \"$LOG\"; [ $(grep -c second \"$LOG\") -ge 2 ] || sleep 5", {"first"})}}};
    const auto job_path = scratch_path("killed.json");
    std::ofstream(job_path) << job.dump();

    // Start the runner, wait until "second" has started, then kill the runner outright.
    const auto err_path = scratch_path("killed.err");
    const std::string script =
        "\"$0\" run \"$1\" --store \"$2\" --quiet 2>\"$3\" & pid=$!; i=0; "
        "until grep -q second \"$4\" 2>/dev/null || [ $i -ge 200 ]; do sleep 0.05; i=$((i+1)); done; "
        "kill -9 $pid; wait $pid; exit 0";
    const auto killed = run_binary(
        "/bin/sh", {"-c", script, JOBGRAPH_CLI_PATH, job_path.string(), db, err_path.string(), log.string()});
    REQUIRE(killed.exit_code == 0);
    REQUIRE(read_file(log) == "first\nsecond\n");
    const std::string err = read_file(err_path);
    REQUIRE(err.rfind("job id: ", 0) == 0);
    const std::string id = err.substr(8, err.find('\n') - 8);

    const auto resumed = run_cli({"resume", db, id, "--json", "-"});
    CHECK(resumed.exit_code == 0);
    CHECK(resumed.err.find("had already ended") == std::string::npos);
    CHECK(read_file(log) == "first\nsecond\nsecond\n");  // first kept its outcome; second ran again
    const json result = json::parse(resumed.out);
    CHECK(result.at("status") == "succeeded");
    CHECK(task_of(result, "first").at("attempts") == 1);
    CHECK(task_of(result, "second").at("status") == "succeeded");
}

TEST_CASE("a failed stored job resumes to the same failure, exit 1", "[cli][store]") {
    const auto db = scratch_path("jobs.db").string();
    const auto first = run_cli({"run", fixture_job("fail.json"), "--store", db, "--quiet"});
    CHECK(first.exit_code == 1);
    const auto again = run_cli({"resume", db, job_id_of(first), "--json", "-", "--quiet"});
    CHECK(again.exit_code == 1);
    CHECK(json::parse(again.out).at("status") == "failed");
}

TEST_CASE("a planned job kept in a store is approved, then its planned tasks run", "[cli][store][plan]") {
    const auto db = scratch_path("jobs.db").string();
    const auto planned = run_cli({"run", fixture_job("approval.json"), "--store", db, "--json", "-"});
    REQUIRE(planned.exit_code == 3);
    const std::string id = job_id_of(planned);
    REQUIRE_FALSE(id.empty());
    const json before = json::parse(planned.out);
    CHECK(planned.err.find("to run the planned tasks: jobgraph approve " + db + " " + id + "\n") != std::string::npos);
    CHECK(task_of(before, "deploy").at("status") == "planned");
    CHECK(task_of(before, "deploy").at("output").is_null());

    // Still awaiting: resume shows it again and runs nothing.
    const auto waiting = run_cli({"resume", db, id, "--json", "-"});
    CHECK(waiting.exit_code == 3);
    CHECK(json::parse(waiting.out) == before);

    const auto approved = run_cli({"approve", db, id, "--json", "-"});
    CHECK(approved.exit_code == 0);
    CHECK(approved.err.rfind("approved 2 planned tasks\n", 0) == 0);
    const json after = json::parse(approved.out);
    CHECK(after.at("status") == "succeeded");
    CHECK(after.at("stats").at("planned") == 0);
    CHECK(after.at("stats").at("succeeded") == 4);
    CHECK(task_of(after, "deploy").at("status") == "succeeded");
    CHECK(task_of(after, "deploy").at("output").at("stdout") == "deploying\n");
    CHECK(task_of(after, "announce").at("status") == "succeeded");
    // What ran before the approval kept its outcome and was not run again.
    for (const std::string done : {"plan", "look"}) {
        INFO(done);
        CHECK(task_of(after, done).at("attempts") == 1);
        CHECK(task_of(after, done).at("completedAt") == task_of(before, done).at("completedAt"));
    }

    SECTION("approving again finds nothing to approve and shows the stored result") {
        const auto twice = run_cli({"approve", db, id, "--json", "-"});
        CHECK(twice.exit_code == 0);
        CHECK(twice.err.rfind("approved 0 planned tasks\n", 0) == 0);
        CHECK(json::parse(twice.out) == after);
    }
}

TEST_CASE("resume and approve with an unknown job or store: exit 2 and a message", "[cli][store][exit]") {
    const auto db = scratch_path("jobs.db").string();
    REQUIRE(run_cli({"run", fixture_job("fail.json"), "--store", db, "--quiet"}).exit_code == 1);

    SECTION("unknown job id") {
        for (const std::string command : {"resume", "approve"}) {
            const auto run = run_cli({command, db, "job-nope"});
            CHECK(run.exit_code == 2);
            CHECK(run.err == "jobgraph: " + db + ": no job \"job-nope\" in this store\n");
            CHECK(run.out.empty());
        }
    }
    SECTION("a store file that does not exist is not created") {
        const auto missing = scratch_path("missing.db");
        const auto run = run_cli({"resume", missing.string(), "job-1"});
        CHECK(run.exit_code == 2);
        CHECK(run.err == "jobgraph: " + missing.string() + ": no such job store\n");
        CHECK_FALSE(std::filesystem::exists(missing));
    }
    SECTION("a file that is not a store") {
        const auto run = run_cli({"resume", fixture_job("fail.json"), "job-1"});
        CHECK(run.exit_code == 2);
        CHECK(run.err.rfind("jobgraph: ", 0) == 0);
        CHECK(run.err.find(fixture_job("fail.json")) != std::string::npos);
    }
    SECTION("missing arguments") {
        const auto run = run_cli({"resume", db});
        CHECK(run.exit_code == 2);
        CHECK(run.err.find("job_id is required") != std::string::npos);
    }
}

TEST_CASE("run --store with a store that cannot be opened: exit 2 naming the file, nothing runs",
          "[cli][store][exit]") {
    const auto log = scratch_path("append.log");
    const auto run = run_cli({"run", write_append_job(log), "--store", "/nonexistent/dir/x.db"});
    CHECK(run.exit_code == 2);
    CHECK(run.err.rfind("jobgraph: ", 0) == 0);
    CHECK(run.err.find("/nonexistent/dir/x.db") != std::string::npos);
    CHECK(run.err.find("job id") == std::string::npos);
    CHECK(run.out.empty());
    CHECK_FALSE(std::filesystem::exists(log));
}

TEST_CASE("run --store with an invalid job file: exit 2 and no store is created", "[cli][store][exit]") {
    const auto db = scratch_path("jobs.db");
    const auto run = run_cli({"run", fixture_job("cycle.json"), "--store", db.string()});
    CHECK(run.exit_code == 2);
    CHECK(run.err.find("Circular dependencies detected") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(db));
}

TEST_CASE("core/gather outputs its dependencies' outputs and its input is kept as written", "[cli][services]") {
    CliRun run;
    const auto result = run_job_for_result(fixture_job("gather.json"), &run);
    REQUIRE(run.exit_code == 0);
    CHECK(result.at("stats").at("succeeded") == 8);
    const auto output_of = [&](const std::string& id) { return task_of(result, id).at("output"); };
    const auto input_of = [&](const std::string& id) { return task_of(result, id).at("input"); };

    CHECK(output_of("all") == json{{"a", output_of("a")}, {"b", output_of("b")}});
    CHECK(output_of("all").at("b").at("stdout") == "bee\n");
    CHECK(output_of("noted") == json{{"b", output_of("b")}});
    CHECK(output_of("none") == json::object());
    // A spawned gather reads its own dependsOn; "from" in its input is only data now.
    CHECK(output_of("inner") == json{{"c", json{{"n", 3}}}, {"a", json{{"n", 1}}}});

    // Recorded exactly as the file wrote them: nothing added.
    CHECK(input_of("all") == json::object());
    CHECK(input_of("noted") == json{{"note", "only b"}});
    CHECK(input_of("none") == json::object());
    CHECK(input_of("inner") == json{{"from", {"c"}}});
    CHECK(task_of(result, "all").at("dependsOn") == json{"a", "b"});
    CHECK(task_of(result, "inner").at("dependsOn") == json{"c", "a"});
}
