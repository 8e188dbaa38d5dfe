// Section 1: job and task specs, their JSON form and malformed JSON text.
#include "helpers.hpp"

using namespace jobgraph;
using namespace jobgraph::testing;

TEST_CASE("A job spec reads the contract's JSON names and defaults", "[spec]") {
    const auto spec = parse_job(R"({
        "name": "nightly-import",
        "tasks": [
            {"id": "fetch", "service": "http", "command": "get", "input": {"url": "u"}},
            {"service": "ai", "command": "classify", "dependsOn": ["fetch"]}
        ]})");
    CHECK(spec.name == "nightly-import");
    CHECK(spec.mode == Mode::parallel);
    CHECK(spec.limits.max_tasks == 1000);
    CHECK(spec.limits.max_depth == 10);
    CHECK(spec.limits.timeout == std::chrono::milliseconds(0));
    CHECK(spec.abort_on_failure);
    CHECK_FALSE(spec.require_approval);
    REQUIRE(spec.tasks.size() == 2);
    CHECK(spec.tasks[0].id == std::optional<std::string>("fetch"));
    CHECK(spec.tasks[0].input == json{{"url", "u"}});
    CHECK_FALSE(spec.tasks[1].id.has_value());
    CHECK(spec.tasks[1].input == json::object());
    CHECK(spec.tasks[1].depends_on == std::vector<std::string>{"fetch"});
}

TEST_CASE("A job spec survives a round trip through JSON", "[spec]") {
    JobSpec spec = job({named("a"), named("b", {"a"}, {{"k", 1}})}, "round-trip");
    spec.mode = Mode::sequential;
    spec.limits = {.max_tasks = 7, .max_depth = 3, .timeout = std::chrono::milliseconds(250)};
    spec.abort_on_failure = false;
    spec.require_approval = true;
    const json j = spec;
    CHECK(j.at("maxTasks") == 7);
    CHECK(j.at("mode") == "sequential");
    CHECK(j.at("tasks").at(1).at("dependsOn") == json{"a"});
    CHECK(j.get<JobSpec>() == spec);
}

TEST_CASE("Every problem of shape is reported at once", "[spec]") {
    try {
        parse_job(R"({"name": 5, "mode": "waves", "maxTasks": 1.5, "abortOnFailure": "yes", "extra": 1,
                      "tasks": [{"service": "s", "command": 3, "input": [], "dependsOn": "x"}, 7]})");
        FAIL("expected a SpecError");
    } catch (const SpecError& error) {
        CHECK(error.problems() == std::vector<std::string>{
                                      "job: unknown field \"extra\"",
                                      "job: \"name\" must be a string, got 5",
                                      "job: \"mode\" must be \"parallel\" or \"sequential\", got \"waves\"",
                                      "job: \"maxTasks\" must be an integer, got 1.5",
                                      "job: \"abortOnFailure\" must be true or false, got \"yes\"",
                                      "tasks[0]: \"command\" must be a string, got 3",
                                      "tasks[0]: \"input\" must be a JSON object, got []",
                                      "tasks[0]: \"dependsOn\" must be an array of task ids",
                                      "tasks[1]: a task must be a JSON object, got 7",
                                  });
        CHECK_THAT(error.what(), Catch::StartsWith("Invalid job specification:\njob: unknown field"));
    }
}

TEST_CASE("Task timeout, retry and priority, taskDefaults and concurrency are read", "[spec]") {
    using std::chrono::milliseconds;
    const auto spec = parse_job(R"({
        "name": "crawl",
        "taskDefaults": {"timeout": 30000, "retry": {"maxAttempts": 3}, "priority": -1},
        "concurrency": {"http": 4, "llm/chat": 1},
        "tasks": [
            {"id": "fetch", "service": "http", "command": "request", "timeout": 5000, "priority": 10,
             "retry": {"maxAttempts": 5, "delay": 200, "backoff": 1.5, "maxDelay": 2000, "jitter": false}},
            {"id": "rank", "service": "llm", "command": "chat", "retry": {}, "priority": 0},
            {"id": "plain", "service": "core", "command": "echo"}
        ]})");
    CHECK(spec.task_defaults.timeout == milliseconds(30000));
    CHECK(spec.task_defaults.retry == RetryPolicy{.max_attempts = 3});
    CHECK(spec.task_defaults.priority == -1);
    CHECK(spec.concurrency == std::map<std::string, std::int64_t, std::less<>>{{"http", 4}, {"llm/chat", 1}});
    REQUIRE(spec.tasks.size() == 3);
    const TaskSpec& fetch = spec.tasks[0];
    CHECK(fetch.timeout == milliseconds(5000));
    CHECK(fetch.priority == 10);
    REQUIRE(fetch.retry.has_value());
    CHECK(fetch.retry->max_attempts == 5);
    CHECK(fetch.retry->delay == milliseconds(200));
    CHECK(fetch.retry->backoff == 1.5);
    CHECK(fetch.retry->max_delay == milliseconds(2000));
    CHECK_FALSE(fetch.retry->jitter);
    // Members left out keep the contract's defaults; an explicit 0 priority is still set.
    CHECK(spec.tasks[1].retry == RetryPolicy{});
    CHECK(spec.tasks[1].retry->delay == milliseconds(1000));
    CHECK(spec.tasks[1].retry->backoff == 2.0);
    CHECK(spec.tasks[1].retry->max_delay == milliseconds(60000));
    CHECK(spec.tasks[1].retry->jitter);
    CHECK(spec.tasks[1].priority == 0);
    CHECK_FALSE(spec.tasks[1].timeout.has_value());
    CHECK_FALSE(spec.tasks[2].timeout.has_value());
    CHECK_FALSE(spec.tasks[2].retry.has_value());
    CHECK_FALSE(spec.tasks[2].priority.has_value());
}

TEST_CASE("Retry, timeout, priority, taskDefaults and concurrency survive a round trip, and unset ones are not written",
          "[spec]") {
    using std::chrono::milliseconds;
    JobSpec plain = job({named("a")});
    const json plain_json = plain;
    CHECK_FALSE(plain_json.contains("taskDefaults"));
    CHECK_FALSE(plain_json.contains("concurrency"));
    CHECK(plain_json.at("tasks").at(0) == json{{"id", "a"}, {"service", "t"}, {"command", "echo"}, {"input", json::object()}});

    JobSpec spec = job({named("a"), named("b", {"a"})});
    spec.tasks[0].timeout = milliseconds(1500);
    spec.tasks[0].retry = RetryPolicy{.max_attempts = 4, .delay = milliseconds(10), .backoff = 3.5,
                                      .max_delay = milliseconds(500), .jitter = false};
    spec.tasks[0].priority = -7;
    spec.tasks[1].priority = 0;
    spec.task_defaults.retry = RetryPolicy{.max_attempts = 2};
    spec.concurrency = {{"t", 2}, {"t/echo", 1}};
    const json j = spec;
    CHECK(j.at("tasks").at(0).at("timeout") == 1500);
    CHECK(j.at("tasks").at(0).at("priority") == -7);
    CHECK(j.at("tasks").at(0).at("retry") ==
          json{{"maxAttempts", 4}, {"delay", 10}, {"backoff", 3.5}, {"maxDelay", 500}, {"jitter", false}});
    CHECK(j.at("tasks").at(1).at("priority") == 0);
    CHECK_FALSE(j.at("tasks").at(1).contains("retry"));
    CHECK(j.at("taskDefaults") == json{{"retry", {{"maxAttempts", 2}, {"delay", 1000}, {"backoff", 2.0},
                                                  {"maxDelay", 60000}, {"jitter", true}}}});
    CHECK(j.at("concurrency") == json{{"t", 2}, {"t/echo", 1}});
    CHECK(j.get<JobSpec>() == spec);
    CHECK(parse_job(j.dump()) == spec);
}

TEST_CASE("Problems of type in the retry, timeout, priority, taskDefaults and concurrency fields are listed",
          "[spec]") {
    try {
        parse_job(R"({"name": "j",
            "taskDefaults": {"timeout": "soon", "retry": 3, "priority": 1.5, "attempts": 2},
            "concurrency": {"http": "four", "llm": 2.5, "shell": 18446744073709551615},
            "tasks": [{"service": "t", "command": "echo", "timeout": -1.5, "priority": 3000000000,
                       "retry": {"maxAttempts": "3", "delay": 1.5, "backoff": "x", "maxDelay": true,
                                 "jitter": 1, "tries": 2}},
                      {"service": "t", "command": "echo", "retry": [], "priority": -3000000000,
                       "timeout": 9223372036854775808},
                      {"service": "t", "command": "echo", "retry": {"maxAttempts": 2147483648, "backoff": 2}}]})");
        FAIL("expected a SpecError");
    } catch (const SpecError& error) {
        CHECK(error.problems() == std::vector<std::string>{
                                      "taskDefaults: unknown field \"attempts\"",
                                      "taskDefaults: \"timeout\" must be an integer, got \"soon\"",
                                      "taskDefaults: \"retry\" must be a JSON object, got 3",
                                      "taskDefaults: \"priority\" must be an integer, got 1.5",
                                      "concurrency: \"http\" must be an integer, got \"four\"",
                                      "concurrency: \"llm\" must be an integer, got 2.5",
                                      "concurrency: \"shell\" is too large: 18446744073709551615",
                                      "tasks[0]: \"timeout\" must be an integer, got -1.5",
                                      "tasks[0]: unknown field \"retry.tries\"",
                                      "tasks[0]: \"retry.maxAttempts\" must be an integer, got \"3\"",
                                      "tasks[0]: \"retry.delay\" must be an integer, got 1.5",
                                      "tasks[0]: \"retry.backoff\" must be a number, got \"x\"",
                                      "tasks[0]: \"retry.maxDelay\" must be an integer, got true",
                                      "tasks[0]: \"retry.jitter\" must be true or false, got 1",
                                      "tasks[0]: \"priority\" is too large: 3000000000",
                                      "tasks[1]: \"timeout\" is too large: 9223372036854775808",
                                      "tasks[1]: \"retry\" must be a JSON object, got []",
                                      "tasks[1]: \"priority\" is too small: -3000000000",
                                      "tasks[2]: \"retry.maxAttempts\" is too large: 2147483648",
                                  });
    }
    try {
        parse_job(R"({"name": "j", "taskDefaults": [], "concurrency": 4, "tasks": [{"service": "t", "command": "echo"}]})");
        FAIL("expected a SpecError");
    } catch (const SpecError& error) {
        CHECK(error.problems() == std::vector<std::string>{
                                      "job: \"taskDefaults\" must be a JSON object, got []",
                                      "job: \"concurrency\" must be a JSON object, got 4",
                                  });
    }
}

TEST_CASE("A retry policy reads on its own, reporting every problem", "[spec]") {
    CHECK(json{{"maxAttempts", 4}, {"backoff", 1}}.get<RetryPolicy>() == RetryPolicy{.max_attempts = 4, .backoff = 1.0});
    CHECK(json::object().get<RetryPolicy>() == RetryPolicy{});
    const RetryPolicy full{.max_attempts = 9, .delay = std::chrono::milliseconds(5), .backoff = 1.25,
                           .max_delay = std::chrono::milliseconds(80), .jitter = false};
    CHECK(json(full).get<RetryPolicy>() == full);
    try {
        (void)json{{"tries", 2}, {"backoff", "2"}}.get<RetryPolicy>();
        FAIL("expected a SpecError");
    } catch (const SpecError& error) {
        CHECK(error.problems() == std::vector<std::string>{"retry: unknown field \"tries\"",
                                                           "retry: \"backoff\" must be a number, got \"2\""});
        CHECK_THAT(error.what(), Catch::StartsWith("Invalid retry policy:\nretry: unknown field"));
    }
    CHECK_THROWS_WITH(json(3).get<RetryPolicy>(), "Invalid retry policy:\nretry: must be a JSON object, got 3");
}

TEST_CASE("A spawned child's own retry, timeout and priority reach its record, the others come from taskDefaults",
          "[spec][spawn]") {
    using std::chrono::milliseconds;
    const auto registry = basic_registry();
    const json children = json::array(
        {json{{"service", "t"}, {"command", "echo"}, {"timeout", 250}, {"priority", 7},
              {"retry", {{"maxAttempts", 2}, {"delay", 5}, {"maxDelay", 5}}}},
         json{{"service", "t"}, {"command", "echo"}}});
    const auto spec = parse_job(R"({"name": "j", "taskDefaults": {"timeout": 900, "priority": -3},
        "tasks": [{"service": "t", "command": "spawn", "input": {"children": )" + children.dump() + "}}]}");
    const auto result = run(registry, spec);
    REQUIRE(result.status == JobStatus::succeeded);
    CHECK(result.at("0-0").timeout == milliseconds(250));
    CHECK(result.at("0-0").priority == 7);
    CHECK(result.at("0-0").retry ==
          RetryPolicy{.max_attempts = 2, .delay = milliseconds(5), .max_delay = milliseconds(5)});
    CHECK(result.at("0-1").timeout == milliseconds(900));
    CHECK(result.at("0-1").priority == -3);
    CHECK(result.at("0-1").retry == RetryPolicy{});
}

TEST_CASE("A spawned child's retry, timeout and priority are read like a root's", "[spec][spawn]") {
    const auto registry = basic_registry();
    const json children = json::array(
        {json{{"service", "t"}, {"command", "echo"}, {"retry", {{"backoff", "fast"}}}, {"priority", "high"}}});
    const auto result = run(registry, job({task("t", "spawn", {{"children", children}})}));
    CHECK(result.at("0").status == TaskStatus::failed);
    CHECK(result.at("0").children.empty());
    CHECK(result.at("0").output.at("error") ==
          "Child task validation failed for parent 0:\n"
          "childTasks[0]: \"retry.backoff\" must be a number, got \"fast\"\n"
          "childTasks[0]: \"priority\" must be an integer, got \"high\"");
}

TEST_CASE("Malformed JSON is reported with its line and column", "[spec]") {
    const std::string text = "{\n  \"name\": \"x\",\n  \"tasks\": [,]\n}";
    try {
        parse_json_text(text);
        FAIL("expected a JsonSyntaxError");
    } catch (const JsonSyntaxError& error) {
        CHECK(error.line() == 3);
        CHECK(error.column() == 13);
        CHECK_THAT(error.what(), Catch::StartsWith("malformed JSON at line 3, column 13: syntax error"));
    }
}

TEST_CASE("Truncated JSON is reported at its end", "[spec]") {
    try {
        parse_json_text("{\"name\": \"x\",\n");
        FAIL("expected a JsonSyntaxError");
    } catch (const JsonSyntaxError& error) {
        CHECK(error.line() == 2);
        CHECK(error.column() == 1);
    }
}

TEST_CASE("Statuses have the contract's names both ways", "[spec]") {
    CHECK(json(TaskStatus::succeeded) == "succeeded");
    CHECK(json(JobStatus::awaiting_approval) == "awaiting_approval");
    CHECK(json("planned").get<TaskStatus>() == TaskStatus::planned);
    CHECK_THROWS_WITH(json("done").get<TaskStatus>(), "unknown task status: \"done\"");
}

TEST_CASE("Timestamps are UTC with microseconds and parse back", "[spec]") {
    using namespace std::chrono;
    const Timestamp at = sys_days{2026y / November / 26} + 15h + 7min + 0s + 123456us;
    CHECK(format_timestamp(at) == "2026-11-26T15:07:00.123456Z");
    CHECK(parse_timestamp("2026-11-26T15:07:00.123456Z") == at);
    CHECK_FALSE(parse_timestamp("2026-11-26 15:07:00").has_value());
    CHECK_FALSE(parse_timestamp("2026-13-26T15:07:00.123456Z").has_value());
}
