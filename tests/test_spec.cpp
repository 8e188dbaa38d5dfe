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
