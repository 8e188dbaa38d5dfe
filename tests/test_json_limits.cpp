// Section 14: JSON nested deeper than 512 levels is refused where it comes in, with an error
// naming where it came from, and never crashes the process.
#include "helpers.hpp"

#include "model/json_limits.hpp"
#include "spec/spec_reader.hpp"

#include <string>

using namespace jobgraph;
using namespace jobgraph::testing;
using detail::depth_exceeds;
using detail::max_json_depth;
using detail::parse_json_within;

namespace {

// `levels` arrays, one inside the next, built without recursion (no initializer lists, which copy).
json nested_arrays(std::size_t levels) {
    json root = json::array();
    json* inner = &root;
    for (std::size_t i = 1; i < levels; ++i) {
        inner->push_back(json::array());
        inner = &inner->back();
    }
    return root;
}

std::string nested_text(std::size_t levels) {
    return std::string(levels, '[') + std::string(levels, ']');
}

// A one-task job whose input {"v": [[...]]} nests `input_levels` levels; the document itself
// nests 3 more (the job, its task list, the task).
std::string job_text(std::size_t input_levels) {
    return R"({"name":"j","tasks":[{"service":"t","command":"echo","input":{"v":)" + nested_text(input_levels - 1) +
           "}}]}";
}

// The same job built in C++: the deep value is moved in, never copied.
json job_json(std::size_t input_levels) {
    json job = {{"name", "j"}, {"tasks", json::array({{{"service", "t"}, {"command", "echo"}}})}};
    json input = json::object();
    input["v"] = nested_arrays(input_levels - 1);
    job["tasks"][0]["input"] = std::move(input);
    return job;
}

template <typename Call>
std::string syntax_error_of(Call call) {
    try {
        call();
    } catch (const JsonSyntaxError& error) {
        return error.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("parse_json_within accepts 512 levels and refuses 513, naming line and column", "[limits]") {
    const json parsed = parse_json_within(nested_text(512));
    CHECK_FALSE(depth_exceeds(parsed));
    CHECK(depth_exceeds(parsed, 511));

    // The 513th bracket is byte 513 of the first line.
    CHECK(syntax_error_of([] { parse_json_within(nested_text(513)); }) ==
          "JSON nests deeper than 512 levels at line 1, column 513");
    CHECK(syntax_error_of([] { parse_json_within(nested_text(100'000)); }) ==
          "JSON nests deeper than 512 levels at line 1, column 513");
    try {
        parse_json_within("{\n  \"a\": [[\n  [[1]]]]}", 3);
        FAIL("no error");
    } catch (const detail::JsonTooDeep& error) {
        CHECK(std::string(error.what()) == "JSON nests deeper than 3 levels at line 3, column 3");
        CHECK(error.line() == 3);
        CHECK(error.column() == 3);
    }
    // Brackets inside strings, escaped quotes included, are text, not nesting.
    CHECK(parse_json_within(R"([["[[[\"[[", "]]\\"]])", 2) == json::array({json::array({"[[[\"[[", "]]\\"})}));
}

TEST_CASE("parse_json_within builds the value json::parse builds", "[limits]") {
    const std::string text =
        R"({"b": [1, -2, 3.5, 18446744073709551615, true, false, null, "x\u00e9"], "a": {"k": {}}, "e": [], "a2": 1, "a2": 2})";
    CHECK(parse_json_within(text) == json::parse(text));
    CHECK(parse_json_within("7") == json(7));
    CHECK(parse_json_within(" \"s\" ") == json("s"));
}

TEST_CASE("parse_json_within reports malformed text as before", "[limits]") {
    CHECK(syntax_error_of([] { parse_json_within("{\"a\": [1,\n 2,,]}"); }) ==
          "malformed JSON at line 2, column 4: syntax error while parsing value - unexpected ','; expected '[', "
          "'{', or a literal");
    CHECK(syntax_error_of([] { parse_json_within("[1] 2"); }) ==
          "malformed JSON at line 1, column 5: syntax error while parsing value - unexpected number literal; "
          "expected end of input");
    CHECK(syntax_error_of([] { parse_json_within(""); }) ==
          "malformed JSON at line 1, column 1: syntax error while parsing value - unexpected end of input; expected "
          "'[', '{', or a literal");
}

TEST_CASE("depth_exceeds counts containers and stops at the limit", "[limits]") {
    CHECK_FALSE(depth_exceeds(json(3), 0));
    CHECK(depth_exceeds(json::array(), 0));
    CHECK_FALSE(depth_exceeds(json::array(), 1));
    CHECK_FALSE(depth_exceeds(json{{"a", {1, 2}}, {"b", json::object()}}, 2));
    CHECK(depth_exceeds(json{{"a", {1, 2}}, {"b", {{"c", json::array()}}}}, 2));
    CHECK_FALSE(depth_exceeds(nested_arrays(512)));
    CHECK(depth_exceeds(nested_arrays(513)));
    CHECK(depth_exceeds(nested_arrays(100'000)));
    // The deep branch last among many shallow ones, in an object.
    json wide = json::object();
    for (int i = 0; i < 1000; ++i) wide["k" + std::to_string(i)] = json::array({i});
    wide["z"] = nested_arrays(512);
    CHECK(depth_exceeds(wide));
    CHECK_FALSE(depth_exceeds(wide, 513));
}

TEST_CASE("a 100,000-level value built in C++ is destroyed without recursing", "[limits]") {
    // nlohmann::json (3.11) destroys containers with a heap stack of its own; copying, dumping
    // and comparing still recurse, which is why deep values are refused where they come in.
    { const json arrays = nested_arrays(100'000); }
    {
        json objects = json::object();
        json* inner = &objects;
        for (int i = 0; i < 100'000; ++i) inner = &(*inner)["k"];
        CHECK(depth_exceeds(objects));
    }
    SUCCEED("both destroyed");
}

TEST_CASE("parse_job and parse_json_text refuse job text nested deeper than 512 levels", "[limits][spec]") {
    // 3 levels of job, task list and task, then the input.
    const JobSpec accepted = parse_job(job_text(509));
    REQUIRE(accepted.tasks.size() == 1);
    CHECK(depth_exceeds(accepted.tasks[0].input, 508));
    CHECK_FALSE(depth_exceeds(accepted.tasks[0].input, 509));

    // The prefix up to the input's list is 66 bytes; its 509th bracket opens level 513.
    const std::string expected = "JSON nests deeper than 512 levels at line 1, column 575";
    CHECK(syntax_error_of([] { parse_job(job_text(510)); }) == expected);
    CHECK(syntax_error_of([] { parse_job(job_text(100'000)); }) == expected);
    CHECK(syntax_error_of([] { parse_json_text(job_text(100'000)); }) == expected);
}

TEST_CASE("Orchestrator::run(json) refuses a task input nested deeper than 512 levels", "[limits][spec]") {
    const auto registry = basic_registry();
    const Orchestrator orchestrator(registry, {.workers = 2});
    for (const std::size_t levels : {std::size_t{513}, std::size_t{100'000}}) {
        const json job = job_json(levels);
        const JobResult result = orchestrator.run(job);
        CHECK(result.status == JobStatus::failed);
        CHECK(result.tasks.empty());
        CHECK(result.error_message == "Job validation failed:\ntasks[0]: \"input\" nests deeper than 512 levels");
        CHECK(orchestrator.validate(job) ==
              std::vector<std::string>{"tasks[0]: \"input\" nests deeper than 512 levels"});
    }

    const JobResult result = orchestrator.run(job_json(512));
    REQUIRE(result.status == JobStatus::succeeded);
    CHECK_FALSE(depth_exceeds(result.at("0").output));
    CHECK(depth_exceeds(result.at("0").output, 511));
    CHECK(json(result).dump().size() > 1024);  // written out whole
}

TEST_CASE("problems quote a too deep value by its depth, not by dumping it", "[limits][spec]") {
    json job = job_json(2);
    job["tasks"][0]["id"] = nested_arrays(100'000);
    job["name"] = nested_arrays(513);
    std::vector<std::string> problems;
    detail::read_job(job, problems);
    CHECK(problems ==
          std::vector<std::string>{"job: \"name\" must be a string, got a value nested deeper than 512 levels",
                                   "tasks[0]: \"id\" must be a string, got a value nested deeper than 512 levels"});
}

TEST_CASE("a task spec read from JSON refuses a deep input", "[limits][spec]") {
    json spec = {{"service", "t"}, {"command", "echo"}};
    spec["input"] = nested_arrays(100'000);
    try {
        (void)spec.get<TaskSpec>();
        FAIL("no error");
    } catch (const SpecError& error) {
        CHECK(error.problems() == std::vector<std::string>{"task: \"input\" nests deeper than 512 levels"});
    }
}

TEST_CASE("a JobSpec built in C++ with a deep input fails validation", "[limits][spec]") {
    const auto registry = basic_registry();
    JobSpec spec = job({task("t", "echo")});
    spec.tasks[0].input["v"] = nested_arrays(100'000);
    CHECK(validate_job(spec, registry) ==
          std::vector<std::string>{"Task 0: invalid input for t/echo: input nests deeper than 512 levels"});
    // Moved in: the run(const JobSpec&) overload copies the spec before validating it.
    const JobResult result = Orchestrator(registry, {.workers = 1}).run(std::move(spec));
    CHECK(result.status == JobStatus::failed);
    CHECK(result.error_message ==
          "Job validation failed:\nTask 0: invalid input for t/echo: input nests deeper than 512 levels");
}

TEST_CASE("a handler's result is checked with depth_exceeds", "[limits]") {
    // The run fails a task whose result nests deeper than max_json_depth: the check it makes.
    json result = {{"output", json::object()}};
    result["output"]["v"] = nested_arrays(510);
    CHECK_FALSE(depth_exceeds(result));
    result["output"]["v"] = nested_arrays(511);
    CHECK(depth_exceeds(result));
    result["output"]["v"] = nested_arrays(100'000);
    CHECK(depth_exceeds(result));
}

TEST_CASE("a spawned child's spec with a deep input is refused", "[limits][spawn]") {
    SECTION("read from a handler's childTasks") {
        json child = {{"service", "t"}, {"command", "echo"}};
        child["input"] = nested_arrays(100'000);
        std::vector<std::string> problems;
        detail::read_task(child, detail::Where{"childTasks", 2}, problems);
        CHECK(problems == std::vector<std::string>{"childTasks[2]: \"input\" nests deeper than 512 levels"});
    }
    SECTION("handed over with TaskContext::spawn") {
        auto registry = basic_registry();
        registry.add("t", "deep", [](TaskContext& ctx) {
            TaskSpec child = task("t", "echo");
            child.input["v"] = nested_arrays(100'000);
            ctx.spawn(std::move(child));
            return json{{"spawned", 1}};
        });
        const JobResult result = Orchestrator(registry, {.workers = 2}).run(job({task("t", "deep")}));
        CHECK(result.status == JobStatus::failed);
        REQUIRE(result.tasks.size() == 1);
        CHECK(result.at("0").status == TaskStatus::failed);
        CHECK(result.at("0").output ==
              json{{"error",
                    "Child task validation failed for parent 0:\n"
                    "Invalid input for child task 0-0 (t/echo): input nests deeper than 512 levels"}});
    }
}
