#pragma once
/// @file summary.hpp
/// @brief The short table printed after a run.

#include <jobgraph/result.hpp>

#include <cstdio>
#include <string>

namespace jobgraph::cli {

/// @brief One line per task (id, service/command, status, time, what it produced) under a
/// heading with the job's status and counts. Every name and message in it is terminal_safe,
/// and the columns line up by display width.
std::string format_summary(const JobResult& result);

/// @brief What a task produced, in one line of at most @p width columns, terminal_safe: stdout
/// of a shell command, the error of a failed or aborted task, otherwise its output as compact
/// JSON. Trailing whitespace is dropped; newlines inside show as `\n`.
std::string describe_outcome(const TaskRecord& task, std::size_t width);

}  // namespace jobgraph::cli
