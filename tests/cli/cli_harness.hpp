#pragma once
// Runs the built jobgraph binary and captures what it printed and how it exited.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace cli_test {

struct CliRun {
    int exit_code = -1;
    std::string out;
    std::string err;
    double seconds = 0.0;
};

/// @brief Runs `jobgraph <args...>` from the repository root with stdin from /dev/null and
/// TMPDIR set to scratch_directory().
CliRun run_cli(const std::vector<std::string>& args);
/// @brief Runs any program the same way (used for the example programs).
CliRun run_binary(const std::string& binary, const std::vector<std::string>& args);
/// @brief Runs `jobgraph <args...>` with stderr on a pseudo-terminal; err holds what the
/// terminal received.
CliRun run_cli_on_terminal(const std::vector<std::string>& args);

/// @brief An example job under examples/jobs/.
std::string example_job(const std::string& file_name);
/// @brief A test job under tests/cli/jobs/.
std::string fixture_job(const std::string& file_name);

/// @brief This test process's scratch directory; the runs' TMPDIR.
const std::filesystem::path& scratch_directory();
/// @brief A fresh path in this test process's scratch directory.
std::filesystem::path scratch_path(const std::string& name);

std::string read_file(const std::filesystem::path& path);

/// @brief `run JOB --json FILE --quiet`, returning the parsed result (and the run in @p run).
nlohmann::json run_job_for_result(const std::string& job_path, CliRun* run = nullptr,
                                  const std::vector<std::string>& extra_args = {});

/// @brief The task with this id in a result's "tasks", or null JSON.
nlohmann::json task_of(const nlohmann::json& result, const std::string& id);

}  // namespace cli_test
