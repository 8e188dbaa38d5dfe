// shell/run: stdout read as the task's result, the output cap, and stopping everything a
// program started, including what left its process group.

#include "services_helpers.hpp"

#include <filesystem>
#include <fstream>
#include <thread>

#include <signal.h>
#include <unistd.h>

using namespace jobgraph;
using namespace jobgraph::testing;

namespace {

json shell(std::string id, std::vector<std::string> argv, json extra = json::object()) {
    json input{{"argv", std::move(argv)}};
    for (auto& [key, value] : extra.items()) input[key] = value;
    return json{{"id", std::move(id)}, {"service", "shell"}, {"command", "run"}, {"input", std::move(input)}};
}

json sh(std::string id, std::string script, json extra = json::object()) {
    return shell(std::move(id), {"sh", "-c", std::move(script)}, std::move(extra));
}

// Alive, and not a zombie waiting for its parent to reap it.
bool process_is_running(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    if (text.empty()) return false;
    const auto after_name = text.rfind(')');
    return after_name != std::string::npos && text.substr(after_name + 2, 1) != "Z";
}

bool ends_within(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (process_is_running(pid)) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

std::filesystem::path fresh_directory(const std::string& name) {
    const auto path =
        std::filesystem::temp_directory_path() / ("jobgraph-services-" + std::to_string(::getpid())) / name;
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
    return path;
}

pid_t pid_in(const std::filesystem::path& file) {
    std::ifstream in(file);
    pid_t pid = 0;
    in >> pid;
    return pid;
}

}  // namespace

TEST_CASE("shell/run with stdout json: the program's stdout is the task's result", "[services][shell]") {
    const std::string script = R"(cat <<'EOF'
{"childTasks": [{"id": "count", "service": "core", "command": "echo", "input": {"files": 3}},
                {"id": "report", "service": "core", "command": "echo", "input": {}, "dependsOn": ["count"]}],
 "output": {"listed": 3},
 "trace": {"by": "list-files.sh"}}
EOF)";
    const auto result = run_job(job_of(json::array({sh("list", script, {{"stdout", "json"}})})));
    REQUIRE(result.status == JobStatus::succeeded);
    const auto& list = result.at("list");
    CHECK(list.output == json{{"listed", 3}});
    CHECK(list.trace == json{{"by", "list-files.sh"}});
    CHECK(list.children == std::vector<std::string>{"count", "report"});
    CHECK(result.at("count").output == json{{"files", 3}});
    CHECK(result.at("report").depends_on == std::vector<std::string>{"count"});
    CHECK(result.at("report").status == TaskStatus::succeeded);
    CHECK(result.stats.total == 3);
}

TEST_CASE("shell/run with stdout json fails on stdout that is not a JSON object", "[services][shell]") {
    SECTION("malformed JSON: the error names line and column") {
        const auto result =
            run_job(job_of(json::array({sh("bad", "printf '{\"files\": 3,\\n  oops}'", {{"stdout", "json"}})})));
        CHECK(result.at("bad").status == TaskStatus::failed);
        CHECK(
            error_of(result.at("bad")).rfind("the stdout of sh is not JSON: malformed JSON at line 2, column 3: ", 0) ==
            0);
        CHECK(result.at("bad").children.empty());
    }
    SECTION("JSON that is not an object") {
        const auto result = run_job(job_of(json::array({sh("list", "echo '[1, 2]'", {{"stdout", "json"}})})));
        CHECK(result.at("list").status == TaskStatus::failed);
        CHECK(error_of(result.at("list")) == "the stdout of sh must be a JSON object (the task's result), got array");
    }
    SECTION("childTasks that do not pass the batch checks: nothing is added") {
        const auto result = run_job(job_of(json::array(
            {sh("plan", R"(echo '{"childTasks": [{"service": "core", "command": "echo", "dependsOn": ["nowhere"]}]}')",
                {{"stdout", "json"}})})));
        CHECK(result.at("plan").status == TaskStatus::failed);
        CHECK(error_of(result.at("plan")) ==
              "Invalid dependency: Child task plan-0 depends on "
              "non-existent task nowhere");
        CHECK(result.stats.total == 1);
    }
    SECTION("an exit status other than 0 fails as in text mode, whatever stdout holds") {
        const auto result = run_job(job_of(json::array({sh("list", "echo '{}'; exit 4", {{"stdout", "json"}})})));
        CHECK(error_of(result.at("list")) == "sh exited with status 4");
    }
}

TEST_CASE("shell/run checks \"stdout\" before anything runs", "[services][shell][validation]") {
    const auto result = run_job(job_of(json::array({sh("list", "touch /tmp/never", {{"stdout", "yaml"}})})));
    CHECK(result.status == JobStatus::failed);
    REQUIRE(result.error_message);
    CHECK(result.error_message->find("\"stdout\" must be \"text\" or \"json\", got \"yaml\"") != std::string::npos);
    CHECK(result.tasks.empty());
}

TEST_CASE("shell/run stores output that is not UTF-8 with replacement characters", "[services][shell]") {
    const auto result = run_job(job_of(json::array({sh("bytes", R"(printf 'caf\351\n')")})));
    REQUIRE(result.at("bytes").status == TaskStatus::succeeded);
    CHECK(result.at("bytes").output.at("stdout") == "caf\xEF\xBF\xBD\n");
}

TEST_CASE("shell/run kills a program that writes more than 16 MiB to a stream", "[services][shell][limits]") {
    SECTION("stdout") {
        const auto timed = run_timed(job_of(json::array({sh("flood", "yes flood")})));
        CHECK(timed.result.at("flood").status == TaskStatus::failed);
        CHECK(error_of(timed.result.at("flood")) == "sh wrote more than 16 MiB to stdout and was killed");
        CHECK(timed.seconds < 10);
    }
    SECTION("stderr") {
        const auto result = run_job(job_of(json::array({sh("flood", "head -c 17000000 /dev/zero >&2")})));
        CHECK(error_of(result.at("flood")) == "sh wrote more than 16 MiB to stderr and was killed");
    }
    SECTION("exactly 16 MiB is kept") {
        const auto result = run_job(job_of(json::array({sh("full", "head -c 16777216 /dev/zero | tr '\\0' x")})));
        REQUIRE(result.at("full").status == TaskStatus::succeeded);
        CHECK(result.at("full").output.at("stdout").get_ref<const std::string&>().size() == 16777216);
    }
}

TEST_CASE("a stopped shell/run ends processes that left its process group with setsid", "[services][shell][stop]") {
    const auto dir = fresh_directory("setsid");
    // The escapee starts a process of its own, which must end too.
    const std::string script = "setsid sh -c 'sleep 30 & echo $! > " + (dir / "grandchild").string() +
                               "; sleep 30' & echo $! > " + (dir / "escapee").string() + "; sleep 30";
    const auto timed = run_timed(job_of(json::array({sh("daemonise", script)}), {{"timeout", 1500}}));
    const auto& task = timed.result.at("daemonise");
    CHECK(task.status == TaskStatus::aborted);
    CHECK(error_of(task) == "Stopped on request: sh was killed");
    CHECK(timed.seconds < 8);

    const pid_t escapee = pid_in(dir / "escapee");
    const pid_t grandchild = pid_in(dir / "grandchild");
    REQUIRE(escapee > 0);
    REQUIRE(grandchild > 0);
    CHECK(ends_within(escapee, std::chrono::seconds(2)));
    CHECK(ends_within(grandchild, std::chrono::seconds(2)));
    // Should the test fail, do not leave them behind.
    for (const pid_t pid : {escapee, grandchild}) {
        if (process_is_running(pid)) ::kill(pid, SIGKILL);
    }
    std::filesystem::remove_all(dir.parent_path());
}

TEST_CASE("end_running_commands kills the process group of every running shell/run program",
          "[services][shell][stop]") {
    const auto dir = fresh_directory("end-running");
    // Both ignore SIGTERM: only SIGKILL ends them. The second also has a child in its group.
    const auto script = [&](const std::string& name) {
        return "trap '' TERM; sleep 30 & echo $! > " + (dir / (name + "-child")).string() + "; echo $$ > " +
               (dir / name).string() + "; wait";
    };
    TimedResult timed;
    std::thread run([&] {
        // One failing must not stop the other: each is to end by end_running_commands alone.
        timed = run_timed(job_of(json::array({sh("first", script("first")), sh("second", script("second"))}),
                                 {{"abortOnFailure", false}}));
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while ((pid_in(dir / "first") == 0 || pid_in(dir / "second") == 0) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::vector<pid_t> programs;
    for (const char* name : {"first", "first-child", "second", "second-child"}) programs.push_back(pid_in(dir / name));
    services::end_running_commands();
    run.join();
    for (const pid_t pid : programs) {
        REQUIRE(pid > 0);
        CHECK(ends_within(pid, std::chrono::seconds(2)));
    }
    for (const char* id : {"first", "second"}) {
        INFO(id);
        const auto& task = timed.result.at(id);
        CHECK(task.status == TaskStatus::failed);
        CHECK(error_of(task) == "sh was killed by signal 9");
    }
    CHECK(timed.seconds < 15);  // not the 30 s the programs would sleep
    // Nothing is left to end once they were reaped.
    CHECK_NOTHROW(services::end_running_commands());
    for (const pid_t pid : programs) {
        if (pid > 0 && process_is_running(pid)) ::kill(pid, SIGKILL);
    }
    std::filesystem::remove_all(dir.parent_path());
}
