// Invalid job files: exit status 2, a message naming the file and every problem, nothing run.
// Files that are not regular files, or too large, are refused the same way before being read.

#include "cli_harness.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <sys/stat.h>

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

namespace {

// Runs the runner under timeout(1): a runner that blocks on the file is killed and exits 124.
CliRun run_cli_within(int seconds, const std::vector<std::string>& args) {
    std::vector<std::string> words{std::to_string(seconds), JOBGRAPH_CLI_PATH};
    words.insert(words.end(), args.begin(), args.end());
    return run_binary("timeout", words);
}

// Both commands refuse @p path with exactly @p reason, at once, running nothing.
void check_refused(const std::string& path, const std::string& reason, const std::vector<std::string>& flags = {}) {
    for (const std::string command : {"validate", "run"}) {
        INFO(command);
        std::vector<std::string> args{command, path};
        args.insert(args.end(), flags.begin(), flags.end());
        const auto run = run_cli_within(10, args);
        CHECK(run.exit_code == 2);
        CHECK(run.out.empty());
        CHECK(run.err == "jobgraph: " + path + ": cannot read the job file: " + reason + "\n");
        CHECK(run.seconds < 5.0);
    }
}

std::string write_sized_job(std::size_t bytes) {
    std::string text = R"({"name": "padded", "tasks": [{"service": "core", "command": "echo"}]})";
    text.resize(bytes, ' ');
    const auto path = scratch_path("padded.json");
    std::ofstream(path) << text;
    return path.string();
}

}  // namespace

TEST_CASE("what is not a regular file is refused before it is opened", "[cli][invalid][limits]") {
    SECTION("a directory") {
        const auto directory = scratch_path("jobs.d");
        std::filesystem::create_directory(directory);
        check_refused(directory.string(), "it is a directory, not a regular file");
    }
    SECTION("a FIFO with no writer: refused, not waited on") {
        const auto fifo = scratch_path("job.fifo");
        REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
        check_refused(fifo.string(), "it is a FIFO, not a regular file");
    }
    SECTION("/dev/zero, which never ends") {
        check_refused("/dev/zero", "it is a character device, not a regular file");
    }
    SECTION("a symbolic link is followed to what it names") {
        const auto link = scratch_path("link.json");
        std::filesystem::create_symlink("/dev/zero", link);
        check_refused(link.string(), "it is a character device, not a regular file");
    }
}

TEST_CASE("a job file over the size limit is refused naming the limit", "[cli][invalid][limits]") {
    SECTION("--max-file-size in bytes") {
        const auto path = write_sized_job(2000);
        check_refused(path, "it is 2000 bytes, over the limit of 1999 bytes (--max-file-size)",
                      {"--max-file-size", "1999"});
        const auto fits = run_cli({"validate", path, "--max-file-size", "2000"});
        CHECK(fits.exit_code == 0);
        CHECK(fits.out == path + ": valid job \"padded\" with 1 initial task\n");
    }
    SECTION("--max-file-size with a unit") {
        const auto path = write_sized_job(2000);
        check_refused(path, "it is 2000 bytes, over the limit of 1024 bytes (--max-file-size)",
                      {"--max-file-size", "1KiB"});
        CHECK(run_cli({"validate", path, "--max-file-size", "2kB"}).exit_code == 0);
    }
    SECTION("the default limit, 256 MiB: a larger file is refused without being read") {
        // Sparse: it takes no disk space, and reading it would take seconds and 256 MiB of memory.
        const auto path = scratch_path("huge.json");
        std::ofstream(path) << R"({"name": "huge", "tasks": [{"service": "core", "command": "echo"}]})";
        std::filesystem::resize_file(path, (std::uintmax_t{256} << 20) + 1);
        check_refused(path.string(), "it is 268435457 bytes, over the limit of 268435456 bytes (--max-file-size)");
    }
    SECTION("a size that is not one") {
        const auto run = run_cli({"validate", write_sized_job(100), "--max-file-size", "lots"});
        CHECK(run.exit_code == 2);
        CHECK(run.err.find("--max-file-size") != std::string::npos);
    }
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
