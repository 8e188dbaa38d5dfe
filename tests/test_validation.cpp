// Section 2: the whole spec is checked before anything runs, and every problem is listed.
#include "helpers.hpp"

#include <fmt/format.h>

#include <limits>

using namespace jobgraph;
using namespace jobgraph::testing;

namespace {

struct CountingRegistry {
    std::atomic<int> calls{0};
    HandlerRegistry registry;
    CountingRegistry() {
        registry.add("t", "echo", [this](TaskContext& ctx) {
            ++calls;
            return ctx.input();
        });
        registry.add("t", "upload", [this](TaskContext&) {
            ++calls;
            return json::object();
        });
        registry.add("mail", "send",
                     [this](TaskContext&) {
                         ++calls;
                         return json::object();
                     },
                     {.input_check = [](const json& input) -> std::optional<std::string> {
                         if (!input.contains("to")) return "\"to\" is required";
                         return std::nullopt;
                     }});
    }
};

}  // namespace

TEST_CASE("An invalid job runs nothing and lists every problem", "[validation]") {
    CountingRegistry fixture;
    JobSpec spec = job({
        named("a", {"ghost"}),
        task("t", "ech", {}, {}, "b"),
        task("mail", "send", {{"subject", "hi"}}, {}, "c"),
        task("nope", "x", {}, {}, "d"),
        named("a"),
    });
    spec.limits.max_tasks = 3;
    spec.limits.max_depth = -1;
    spec.limits.timeout = std::chrono::milliseconds(-5);
    const auto result = run(fixture.registry, spec);
    CHECK(fixture.calls == 0);
    CHECK(result.status == JobStatus::failed);
    CHECK(result.tasks.empty());
    REQUIRE(result.error_message.has_value());
    CHECK(*result.error_message ==
          "Job validation failed:\n"
          "maxDepth must be at least 0, got -1\n"
          "timeout must be at least 0, got -5\n"
          "Job has 5 initial tasks, more than maxTasks (3)\n"
          "Duplicate task id: a (tasks[0] and tasks[4])\n"
          "Task a depends on non-existent task ghost\n"
          "Task b: Unknown service/command: t/ech (service t has: echo, upload)\n"
          "Task c: invalid input for mail/send: \"to\" is required\n"
          "Task d: Unknown service/command: nope/x (no service nope; known services: mail, t)");
}

TEST_CASE("An explicit id equal to a positional one is a duplicate", "[validation]") {
    const auto registry = basic_registry();
    const auto problems = validate_job(job({named("1"), task("t", "echo")}), registry);
    CHECK(problems == std::vector<std::string>{"Duplicate task id: 1 (tasks[0] and tasks[1])"});
    CHECK(validate_job(job({task("t", "echo"), named("0")}), registry) ==
          std::vector<std::string>{"Duplicate task id: 0 (tasks[0] and tasks[1])"});
}

TEST_CASE("A dependency cycle is named by its path", "[validation]") {
    const auto registry = basic_registry();
    CHECK(validate_job(job({named("a", {"b"}), named("b", {"c"}), named("c", {"a"})}), registry) ==
          std::vector<std::string>{"Circular dependencies detected: a -> b -> c -> a"});
    CHECK(validate_job(job({named("self", {"self"})}), registry) ==
          std::vector<std::string>{"Circular dependencies detected: self -> self"});
}

TEST_CASE("Sequential order counts towards cycles", "[validation]") {
    const auto registry = basic_registry();
    JobSpec spec = job({named("first", {"second"}), named("second")});
    CHECK(validate_job(spec, registry).empty());
    spec.mode = Mode::sequential;  // second now also waits for first
    CHECK(validate_job(spec, registry) ==
          std::vector<std::string>{"Circular dependencies detected: first -> second -> first"});
}

TEST_CASE("Limits, names and task fields are checked", "[validation]") {
    const auto registry = basic_registry();
    JobSpec spec = job({task("", "echo"), task("t", "echo", {}, {}, "")}, "");
    spec.limits.max_tasks = 0;
    CHECK(validate_job(spec, registry) == std::vector<std::string>{
                                              "Job name must be a non-empty string",
                                              "maxTasks must be at least 1, got 0",
                                              "tasks[1]: id must not be empty",
                                              "Task 0: service and command must be non-empty strings",
                                          });
    CHECK(validate_job(job({}), registry) == std::vector<std::string>{"Job must have at least one task"});
}

TEST_CASE("Problems of JSON shape are listed with the rest", "[validation]") {
    const auto registry = basic_registry();
    const Orchestrator orchestrator(registry);
    const json spec = json::parse(R"({"name": "j", "maxDepth": "deep",
        "tasks": [{"service": "t", "command": "echo", "dependsOn": ["zzz"]}, {"service": "q", "command": "echo"}]})");
    CHECK(orchestrator.validate(spec) ==
          std::vector<std::string>{
              "job: \"maxDepth\" must be an integer, got \"deep\"",
              "Task 0 depends on non-existent task zzz",
              "Task 1: Unknown service/command: q/echo (no service q; known services: t)",
          });
    const auto result = orchestrator.run(spec);
    CHECK(result.status == JobStatus::failed);
    CHECK_THAT(*result.error_message, Catch::StartsWith("Job validation failed:\njob: \"maxDepth\""));
}

TEST_CASE("The registry refuses duplicates and empty names", "[validation][registry]") {
    HandlerRegistry registry;
    registry.add("s", "c", [](TaskContext&) { return json{}; });
    CHECK_THROWS_WITH(registry.add("s", "c", [](TaskContext&) { return json{}; }),
                      "A handler is already registered for s/c");
    CHECK_THROWS_WITH(registry.add("", "c", [](TaskContext&) { return json{}; }),
                      "Service and command must be non-empty, got \"\"/\"c\"");
    CHECK_THROWS_WITH(registry.add("s", "d", Handler{}), "Empty handler for s/d");
    CHECK(registry.commands_of("s") == std::vector<std::string>{"c"});
    CHECK(registry.find("s", "c") != nullptr);
    CHECK(registry.find("s", "x") == nullptr);
}

TEST_CASE("A task given a null input is checked and run with an empty object, and validating changes no spec",
          "[validation]") {
    // `task.input = {}` in C++ assigns null, not an empty object.
    std::vector<json> checked;
    std::vector<json> seen;
    HandlerRegistry registry;
    registry.add("t", "work",
                 [&](TaskContext& ctx) {
                     seen.push_back(ctx.input());
                     return json::object();
                 },
                 {.input_check = [&](const json& input) -> std::optional<std::string> {
                     checked.push_back(input);
                     return std::nullopt;
                 }});
    JobSpec spec = job({task("t", "work")});
    spec.tasks[0].input = {};
    REQUIRE(spec.tasks[0].input.is_null());

    const Orchestrator orchestrator(registry, {.workers = 1});
    CHECK(orchestrator.validate(spec).empty());
    CHECK(validate_job(spec, registry).empty());
    CHECK(checked == std::vector<json>{json::object(), json::object()});
    CHECK(spec.tasks[0].input.is_null());  // read, not rewritten

    const auto result = orchestrator.run(std::move(spec));
    REQUIRE(result.status == JobStatus::succeeded);
    CHECK(seen == std::vector<json>{json::object()});
    CHECK(checked == std::vector<json>{json::object(), json::object(), json::object()});  // run() checks too
    CHECK(result.at("0").input == json::object());
}

TEST_CASE("Task timeouts and retry policies are checked, naming the task and the field", "[validation]") {
    using std::chrono::milliseconds;
    const auto registry = basic_registry();
    JobSpec spec = job({named("fetch"), named("parse"), named("store"), named("edge"), named("plain")});
    spec.tasks[0].timeout = milliseconds(-1);
    spec.tasks[0].retry = RetryPolicy{.max_attempts = 0};
    spec.tasks[1].retry = RetryPolicy{.delay = milliseconds(-5), .backoff = 0.5};
    spec.tasks[2].retry = RetryPolicy{.delay = milliseconds(2000), .max_delay = milliseconds(1000)};
    // Every bound itself is allowed.
    spec.tasks[3].timeout = milliseconds(0);
    spec.tasks[3].retry = RetryPolicy{.max_attempts = 1, .delay = milliseconds(0), .backoff = 1.0,
                                      .max_delay = milliseconds(0)};
    spec.tasks[4].priority = std::numeric_limits<int>::min();  // any priority is allowed
    CHECK(validate_job(spec, registry) == std::vector<std::string>{
                                              "Task fetch: timeout must be at least 0, got -1",
                                              "Task fetch: retry.maxAttempts must be at least 1, got 0",
                                              "Task parse: retry.delay must be at least 0, got -5",
                                              "Task parse: retry.backoff must be at least 1, got 0.5",
                                              "Task store: retry.maxDelay must be at least retry.delay (2000), got 1000",
                                          });
    spec.tasks[0] = named("fetch");
    spec.tasks[1].retry = RetryPolicy{.backoff = std::numeric_limits<double>::quiet_NaN()};
    spec.tasks[2].retry->max_delay = milliseconds(2000);
    CHECK(validate_job(spec, registry) ==
          std::vector<std::string>{"Task parse: retry.backoff must be at least 1, got nan"});
}

TEST_CASE("Task field problems take their place among the others, and the job runs nothing", "[validation]") {
    CountingRegistry fixture;
    const Orchestrator orchestrator(fixture.registry);
    const json spec = json::parse(R"({"name": "j", "maxDepth": -1,
        "tasks": [{"service": "t", "command": "echo", "dependsOn": ["ghost"], "retry": {"maxAttempts": 0}},
                  {"service": "t", "command": "ech", "timeout": -10, "retry": {"backoff": 0.25}}]})");
    const std::vector<std::string> expected{
        "maxDepth must be at least 0, got -1",
        "Task 0 depends on non-existent task ghost",
        "Task 0: retry.maxAttempts must be at least 1, got 0",
        "Task 1: timeout must be at least 0, got -10",
        "Task 1: retry.backoff must be at least 1, got 0.25",
        "Task 1: Unknown service/command: t/ech (service t has: echo, upload)",
    };
    CHECK(orchestrator.validate(spec) == expected);
    const auto result = orchestrator.run(spec);
    CHECK(fixture.calls == 0);
    CHECK(result.status == JobStatus::failed);
    CHECK(result.tasks.empty());
    CHECK(result.error_message == "Job validation failed:\n" + fmt::format("{}", fmt::join(expected, "\n")));
}

TEST_CASE("taskDefaults follow the same rules as a task's own fields", "[validation]") {
    using std::chrono::milliseconds;
    const auto registry = basic_registry();
    JobSpec spec = job({named("a")});
    spec.task_defaults.timeout = milliseconds(-3);
    spec.task_defaults.retry = RetryPolicy{
        .max_attempts = -1, .delay = milliseconds(-1), .backoff = 0.5, .max_delay = milliseconds(-2)};
    spec.task_defaults.priority = std::numeric_limits<int>::max();
    spec.limits.timeout = milliseconds(-4);
    CHECK(validate_job(spec, registry) == std::vector<std::string>{
                                              "timeout must be at least 0, got -4",
                                              "taskDefaults: timeout must be at least 0, got -3",
                                              "taskDefaults: retry.maxAttempts must be at least 1, got -1",
                                              "taskDefaults: retry.delay must be at least 0, got -1",
                                              "taskDefaults: retry.backoff must be at least 1, got 0.5",
                                              "taskDefaults: retry.maxDelay must be at least retry.delay (-1), got -2",
                                          });
    const Orchestrator orchestrator(registry);
    CHECK(orchestrator.validate(json::parse(R"({"name": "j", "taskDefaults": {"retry": {"backoff": 0.5}},
        "tasks": [{"service": "t", "command": "echo"}]})")) ==
          std::vector<std::string>{"taskDefaults: retry.backoff must be at least 1, got 0.5"});
    spec.task_defaults = {.timeout = milliseconds(0), .retry = RetryPolicy{}, .priority = -1};
    spec.limits.timeout = milliseconds(0);
    CHECK(validate_job(spec, registry).empty());
}

TEST_CASE("Concurrency keys must name a registered service or pair, and values be at least 1", "[validation]") {
    HandlerRegistry registry = basic_registry();
    registry.add("git/lab", "push", [](TaskContext&) { return json::object(); });  // a name holding a slash
    JobSpec spec = job({named("a")});
    spec.concurrency = {{"t", 2},          {"t/echo", 1},    {"git/lab", 1},    {"git/lab/push", 1},
                        {"nosuch", 1},     {"t/nope", 1},    {"nosuch/echo", 1}, {"t/", 1},
                        {"", 1},           {"t/sleep", 0},   {"git", -3}};
    CHECK(validate_job(spec, registry) == std::vector<std::string>{
                                              "concurrency: \"\" names no registered service",
                                              "concurrency: \"git\" names no registered service",
                                              "concurrency: \"git\" must be at least 1, got -3",
                                              "concurrency: \"nosuch\" names no registered service",
                                              "concurrency: \"nosuch/echo\" names no registered service/command",
                                              "concurrency: \"t/\" names no registered service/command",
                                              "concurrency: \"t/nope\" names no registered service/command",
                                              "concurrency: \"t/sleep\" must be at least 1, got 0",
                                          });
    CountingRegistry fixture;
    const auto result = Orchestrator(fixture.registry)
                            .run(json::parse(R"({"name": "j", "concurrency": {"mail": 1, "ai/complete": 2},
                                 "tasks": [{"service": "t", "command": "echo"}]})"));
    CHECK(fixture.calls == 0);
    CHECK(result.status == JobStatus::failed);
    CHECK(result.error_message == "Job validation failed:\n"
                                  "concurrency: \"ai/complete\" names no registered service/command");
}

TEST_CASE("A spawned child with a bad timeout or retry field fails its parent and adds nothing", "[validation][spawn]") {
    const auto registry = basic_registry();
    const json children = json::array({
        json{{"id", "c"}, {"service", "t"}, {"command", "echo"}, {"retry", {{"maxAttempts", 0}}}},
        json{{"service", "t"}, {"command", "echo"}, {"timeout", -1}, {"retry", {{"delay", 100}, {"maxDelay", 50}}}},
        json{{"service", "t"}, {"command", "echo"}, {"timeout", 5}, {"retry", {{"maxAttempts", 3}}}, {"priority", -2}},
    });
    const auto result = run(registry, job({task("t", "spawn", {{"children", children}})}));
    CHECK(result.status == JobStatus::failed);
    CHECK(result.tasks.size() == 1);
    CHECK(result.at("0").status == TaskStatus::failed);
    CHECK(result.at("0").children.empty());
    CHECK(result.at("0").output.at("error") ==
          "Child task validation failed for parent 0:\n"
          "Child task c: retry.maxAttempts must be at least 1, got 0\n"
          "Child task 0-1: timeout must be at least 0, got -1\n"
          "Child task 0-1: retry.maxDelay must be at least retry.delay (100), got 50");

    // Spawned from C++, the same check applies.
    HandlerRegistry cpp = basic_registry();
    cpp.add("t", "spawn-cpp", [](TaskContext& ctx) {
        TaskSpec child = task("t", "echo");
        child.retry = RetryPolicy{.backoff = 0.5};
        ctx.spawn(std::move(child));
        return json::object();
    });
    const auto spawned = run(cpp, job({task("t", "spawn-cpp", {}, {}, "p")}));
    CHECK(spawned.at("p").status == TaskStatus::failed);
    CHECK(spawned.at("p").output.at("error") ==
          "Child task validation failed for parent p:\nChild task p-0: retry.backoff must be at least 1, got 0.5");
}
