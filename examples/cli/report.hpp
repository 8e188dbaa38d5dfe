#pragma once
/// @file report.hpp
/// @brief What every command that runs a job does around the run: the progress line, then the
/// summary, --json, --dot and the exit status (cli.md, "Commands").

#include <jobgraph/observer.hpp>
#include <jobgraph/result.hpp>

#include <cstddef>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace jobgraph::cli {

// Exit statuses of cli.md.
constexpr int exit_succeeded = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;
constexpr int exit_awaiting_approval = 3;

/// @brief The flags shared by run, resume and approve.
struct OutputOptions {
    std::size_t workers = 0;
    std::optional<std::string> json_path{};
    std::optional<std::string> dot_path{};
    bool quiet = false;
};

/// @brief Prints "jobgraph: <message>" on stderr.
void report_error(std::string_view message);

/// @brief 0 succeeded, 3 awaiting approval, 1 otherwise.
int exit_status_of(JobStatus status);

/// @brief The live progress line, or null when --quiet or stderr is not a terminal.
std::unique_ptr<JobObserver> make_progress(const OutputOptions& options);

/// @brief Prints the summary (on stderr with --json -, else stdout; none with --quiet), writes
/// --json and --dot, and returns the exit status (2 if a file could not be written).
int report_result(const JobResult& result, const OutputOptions& options);

}  // namespace jobgraph::cli
