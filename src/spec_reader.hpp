#pragma once
// Reads job and task specs from JSON, collecting every problem of shape and type instead of
// stopping at the first (behaviour.md section 2).

#include "jobgraph/spec.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace jobgraph::detail {

/// Reads what it can of a job; each fault appends one problem and leaves that field default.
JobSpec read_job(const nlohmann::json& j, std::vector<std::string>& problems);

/// Reads one task spec; @p where names it in problems, e.g. "tasks[2]".
TaskSpec read_task(const nlohmann::json& j, std::string_view where, std::vector<std::string>& problems);

}  // namespace jobgraph::detail
