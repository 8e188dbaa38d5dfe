#pragma once
/// @file dot.hpp
/// @brief Graphviz DOT export of a finished job: one node per task, coloured by status.

#include "jobgraph/result.hpp"

#include <ostream>
#include <string>

namespace jobgraph {

/// @brief Writes the job's tasks as a DOT digraph. Solid edges run from a dependency to the
/// task that declared it; dashed edges from a parent to each child it spawned. Ids, names and
/// commands are written as quoted DOT strings: quotes and backslashes escaped, control
/// characters (NUL included) shown as visible escapes such as `\n` or `\x1b`, bytes that are
/// not UTF-8 replaced by U+FFFD, so the output is valid DOT whatever the ids hold.
void write_dot(std::ostream& out, const JobResult& result);

/// @brief write_dot into a string.
std::string to_dot(const JobResult& result);

}  // namespace jobgraph
