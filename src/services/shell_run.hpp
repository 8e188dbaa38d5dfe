#pragma once
/// @file shell_run.hpp
/// @brief Runs a program directly (no shell), capturing its output, stoppable on request.

#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace jobgraph::services {

/// @brief What to run: argv[0] is looked up on PATH; env entries are added to (or replace)
/// the runner's own environment.
struct ProgramInvocation {
    std::vector<std::string> argv;
    std::optional<std::string> cwd;
    std::map<std::string, std::string> env;
};

/// @brief How the program ended.
struct ProgramOutcome {
    int exit_code = 0;         ///< the exit status, or 128 + signal when a signal ended it
    std::optional<int> signal; ///< set when a signal ended the program
    bool stopped = false;      ///< true when @p stop turned on and the program was killed
    std::string stdout_text;
    std::string stderr_text;
};

/// @brief Runs the program to its end, or kills its whole process group once @p stop turns
/// on. Throws std::runtime_error when the program cannot be started (e.g. not found).
ProgramOutcome run_program(const ProgramInvocation& invocation, std::stop_token stop);

}  // namespace jobgraph::services
