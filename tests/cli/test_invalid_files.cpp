// Invalid job files: exit status 2, a message naming the file and every problem, nothing run.

#include "cli_harness.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

using namespace cli_test;

namespace {

// Both commands must refuse the file with the same message, and run must print no summary.
std::string refusal(const std::string& file_name) {
    const std::string path = fixture_job(file_name);
    const auto validate = run_cli({"validate", path});
    const auto run = run_cli({"run", path, "--json", "-"});
    CHECK(validate.exit_code == 2);
    CHECK(run.exit_code == 2);
    CHECK(run.out.empty());
    CHECK(validate.err == run.err);
    CHECK(run.err.rfind("jobgraph: " + path + ":", 0) == 0);
    return run.err;
}

}  // namespace

TEST_CASE("malformed JSON names the file line and column", "[cli][invalid]") {
    const std::string path = fixture_job("malformed.json");
    CHECK(refusal("malformed.json").rfind(
              "jobgraph: " + path + ":4:43: malformed JSON at line 4, column 43: syntax error", 0) == 0);
}

TEST_CASE("unknown dependency", "[cli][invalid]") {
    CHECK(refusal("unknown-dependency.json") == "jobgraph: " + fixture_job("unknown-dependency.json") +
                                                     ": invalid job (1 problem):\n"
                                                     "  - Task report depends on non-existent task transform\n");
}

TEST_CASE("cycle with its path", "[cli][invalid]") {
    CHECK(refusal("cycle.json") == "jobgraph: " + fixture_job("cycle.json") +
                                       ": invalid job (1 problem):\n"
                                       "  - Circular dependencies detected: a -> c -> b -> a\n");
}

TEST_CASE("unknown service and unknown command both listed", "[cli][invalid]") {
    const auto message = refusal("unknown-service.json");
    CHECK(message.find("invalid job (2 problems):") != std::string::npos);
    CHECK(message.find("Unknown service/command: http/get") != std::string::npos);
    CHECK(message.find("Unknown service/command: core/shout") != std::string::npos);
    CHECK(message.find("echo, fail, gather, sleep, spawn") != std::string::npos);
}

TEST_CASE("duplicate ids including an explicit id equal to an index-given one", "[cli][invalid]") {
    const auto message = refusal("duplicate-ids.json");
    CHECK(message.find("invalid job (2 problems):") != std::string::npos);
    CHECK(message.find("Duplicate task id: load") != std::string::npos);
    CHECK(message.find("Duplicate task id: 2") != std::string::npos);
}

TEST_CASE("bad limits every one reported", "[cli][invalid]") {
    const auto message = refusal("bad-limits.json");
    CHECK(message.find("invalid job (3 problems):") != std::string::npos);
    CHECK(message.find("maxTasks") != std::string::npos);
    CHECK(message.find("maxDepth") != std::string::npos);
    CHECK(message.find("timeout") != std::string::npos);
}

TEST_CASE("inputs the built-in services refuse", "[cli][invalid]") {
    const auto message = refusal("bad-input.json");
    CHECK(message.find("invalid job (2 problems):") != std::string::npos);
    CHECK(message.find("\"ms\" must be a non-negative integer, got \"soon\"") != std::string::npos);
    CHECK(message.find("\"argv\" must be a non-empty array of strings") != std::string::npos);
}

TEST_CASE("JSON nested deeper than 512 levels names the file line and column", "[cli][invalid]") {
    // The job, its task list and the task take 3 levels; the input's list then opens level 513
    // at its 509th bracket, 72 bytes into the line.
    const auto job_text = [](std::size_t input_levels) {
        return R"({"name":"deep","tasks":[{"service":"core","command":"echo","input":{"v":)" +
               std::string(input_levels - 1, '[') + std::string(input_levels - 1, ']') + "}}]}";
    };
    for (const std::size_t levels : {std::size_t{510}, std::size_t{100'000}}) {
        const auto path = scratch_path("deep-" + std::to_string(levels) + ".json");
        std::ofstream(path) << job_text(levels);
        const auto validate = run_cli({"validate", path.string()});
        const auto run = run_cli({"run", path.string(), "--json", "-"});
        CHECK(validate.exit_code == 2);
        CHECK(run.exit_code == 2);
        CHECK(run.out.empty());
        CHECK(run.err ==
              "jobgraph: " + path.string() + ":1:581: JSON nests deeper than 512 levels at line 1, column 581\n");
        CHECK(validate.err == run.err);
    }

    const auto path = scratch_path("deep-509.json");
    std::ofstream(path) << job_text(509);
    const auto run = run_cli({"run", path.string(), "--quiet"});
    CHECK(run.exit_code == 0);
    CHECK(run.err.empty());
}
