#pragma once
/// @file shell_run.hpp
/// @brief Runs a program directly (no shell), capturing its output, stoppable on request.

#include <cstddef>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace jobgraph::services {

/// @brief The most a program may write to stdout, and to stderr, before it is killed.
inline constexpr std::size_t program_output_limit = std::size_t{16} << 20;  // 16 MiB

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
    /// "stdout" or "stderr" when the program wrote more than program_output_limit there and
    /// was killed for it; empty otherwise.
    std::string overflowed_stream;
    std::string stdout_text;
    std::string stderr_text;
};

/// @brief Runs the program to its end. It runs in a process group of its own, with a marker
/// variable in its environment (process_sweep.hpp). Once @p stop turns on, or the program writes
/// too much, the group gets SIGTERM, then SIGKILL after a short grace, and so does every process
/// that carries the marker (found through /proc on Linux), which catches those that left the
/// group with setsid. Throws std::runtime_error when the program cannot be started.
ProgramOutcome run_program(const ProgramInvocation& invocation, std::stop_token stop);

}  // namespace jobgraph::services
