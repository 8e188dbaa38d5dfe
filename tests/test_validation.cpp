// Section 2: the whole spec is checked before anything runs, and every problem is listed.
#include "helpers.hpp"

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
