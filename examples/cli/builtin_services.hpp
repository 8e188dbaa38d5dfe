#pragma once
/// @file builtin_services.hpp
/// @brief The runner's built-in services (cli.md, "Built-in services").

#include <jobgraph/registry.hpp>

#include <nlohmann/json.hpp>

namespace jobgraph::cli {

/// @brief Registers core/echo, core/sleep, core/fail, core/spawn, core/gather and shell/run.
void register_builtin_services(HandlerRegistry& registry);

/// @brief Copies a core/gather task's dependsOn into its input as "from", unless the input
/// already has one, and does the same for every task of a "tasks" array in @p job.
///
/// Why: a handler's TaskContext does not expose the task's declared dependencies, so the
/// gather handler reads them from its input. Anything that is not a well-formed task spec is
/// left alone for the validator to report.
void add_gather_sources(nlohmann::json& task_spec);
void add_gather_sources_to_job(nlohmann::json& job);

}  // namespace jobgraph::cli
