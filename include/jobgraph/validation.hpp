#pragma once
/// @file validation.hpp
/// @brief Checks a job before anything runs (docs/semantics.md).

#include "jobgraph/registry.hpp"
#include "jobgraph/spec.hpp"

#include <string>
#include <vector>

namespace jobgraph {

/// @brief Every problem of the job, in a stable order (limits, taskDefaults, concurrency, ids,
/// dependencies, task timeouts and retries, handlers and inputs, cycles); empty when it may run.
/// Reads @p job without copying it.
std::vector<std::string> validate_job(const JobSpec& job, const HandlerRegistry& registry);

/// @brief The id a root task gets: its explicit id, or its position as a string.
std::string root_task_id(const TaskSpec& task, std::size_t position);
/// @brief The id a spawned child gets: its explicit id, or "<parentId>-<position>".
std::string child_task_id(const TaskSpec& child, std::string_view parent_id, std::size_t position);

}  // namespace jobgraph
