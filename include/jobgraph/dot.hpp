#pragma once
/// @file dot.hpp
/// @brief Graphviz DOT export of a finished job: one node per task, coloured by status.

#include "jobgraph/result.hpp"

#include <ostream>
#include <string>

namespace jobgraph {

/// @brief Writes the job's tasks as a DOT digraph. Solid edges run from a dependency to the
/// task that declared it; dashed edges from a parent to each child it spawned.
void write_dot(std::ostream& out, const JobResult& result);

/// @brief write_dot into a string.
std::string to_dot(const JobResult& result);

}  // namespace jobgraph
