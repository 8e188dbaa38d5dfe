#pragma once
/// @file builtin_services.hpp
/// @brief The runner's built-in services (cli.md, "Built-in services").

#include <jobgraph/registry.hpp>

#include <nlohmann/json.hpp>

namespace jobgraph::cli {

/// @brief Registers core/echo, core/sleep, core/fail, core/spawn, core/gather and shell/run.
void register_builtin_services(HandlerRegistry& registry);

}  // namespace jobgraph::cli
