#pragma once
// The rules for what a task runs under (timeout and retry) and for a job's concurrency limits,
// shared by job validation and by the checks on a spawned batch (docs/semantics.md).

#include "jobgraph/registry.hpp"
#include "jobgraph/spec.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobgraph::detail {

/// Appends one problem per broken rule, each line led by @p owner ("Task fetch", "taskDefaults").
void check_task_policy(std::string_view owner, const std::optional<std::chrono::milliseconds>& timeout,
                       const std::optional<RetryPolicy>& retry, std::vector<std::string>& problems);

/// Every key must name a registered service or service/command pair, every value be at least 1.
void check_concurrency(const std::map<std::string, std::int64_t, std::less<>>& limits,
                       const HandlerRegistry& registry, std::vector<std::string>& problems);

}  // namespace jobgraph::detail
