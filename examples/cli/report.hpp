#pragma once
/// @file report.hpp
/// @brief What every command that runs a job does around the run: the progress line, then the
/// summary, --json, --dot and the exit status (docs/runner.md).

#include <jobgraph/observer.hpp>
#include <jobgraph/result.hpp>

#include <cstddef>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobgraph::cli {

// Exit statuses of docs/runner.md.
constexpr int exit_succeeded = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;
constexpr int exit_awaiting_approval = 3;
constexpr int exit_cancelled = 4;
constexpr int exit_unfinished = 5;  // status: the job has not ended (yet)
constexpr int exit_interrupted = 130;  // as a shell reports a process ended by SIGINT

/// @brief The flags shared by run, resume and approve.
struct OutputOptions {
    std::size_t workers = 0;
    std::optional<std::string> json_path{};
    std::optional<std::string> dot_path{};
    bool quiet = false;
};

/// @brief Prints "jobgraph: <message>" on stderr, terminal_safe (one line).
void report_error(std::string_view message);

/// @brief Prints "jobgraph: <headline>" and then each detail on a line of its own as
/// "  - <detail>", each part terminal_safe.
void report_error(std::string_view headline, const std::vector<std::string>& details);

/// @brief 0 succeeded, 3 awaiting approval, 4 cancelled, 130 interrupted, 1 otherwise.
int exit_status_of(JobStatus status);

/// @brief Why @p options cannot be used together (both --json and --dot on stdout), if so.
std::optional<std::string> conflicting_outputs(const OutputOptions& options);

/// @brief The live progress line, or null when --quiet or stderr is not a terminal.
std::unique_ptr<JobObserver> make_progress(const OutputOptions& options);

/// @brief Prints the summary (on stderr when --json or --dot writes to stdout, else stdout;
/// none with --quiet), writes --json and --dot, and returns the exit status. With --quiet a
/// job-level error (a store failure, a deadlock, a timeout) is still printed on stderr; a
/// store failure names @p store_file. A --json or --dot file that cannot be written is
/// reported on stderr and turns exit status 0 into 2; 1 and 3 stay, since they tell what
/// became of the job.
int report_result(const JobResult& result, const OutputOptions& options,
                  std::optional<std::string_view> store_file = std::nullopt);

/// @brief What report_result prints and writes, without an exit status: false if a --json or
/// --dot file could not be written (said on stderr).
bool report_outputs(const JobResult& result, const OutputOptions& options,
                    std::optional<std::string_view> store_file = std::nullopt);

}  // namespace jobgraph::cli
