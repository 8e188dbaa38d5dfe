#pragma once
// Reads job and task specs from JSON, collecting every problem of shape and type instead of
// stopping at the first (docs/semantics.md).

#include "jobgraph/spec.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace jobgraph::detail {

/// Names a place in the spec for problems: "job", "tasks[2]", "childTasks[0]". Formatted only
/// when there is a problem to report, which keeps reading children cheap on the spawn path.
struct Where {
    std::string_view list;
    std::size_t index = npos;

    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    std::string text() const;
};

/// Reads what it can of a job; each fault appends one problem and leaves that field default.
JobSpec read_job(const nlohmann::json& j, std::vector<std::string>& problems);

/// Reads one task spec; @p where names it in problems.
TaskSpec read_task(const nlohmann::json& j, const Where& where, std::vector<std::string>& problems);

}  // namespace jobgraph::detail
