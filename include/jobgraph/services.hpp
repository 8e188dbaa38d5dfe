#pragma once
/// @file services.hpp
/// @brief Ready-made handlers: core/echo, core/sleep, core/fail, core/spawn, core/gather and
/// shell/run. They are what the `jobgraph` runner offers; a program of your own can offer them
/// beside its own handlers. Link `jobgraph::services`.

#include <jobgraph/registry.hpp>

namespace jobgraph::services {

/// @brief Registers every built-in service in @p registry. Throws std::invalid_argument if
/// one of their service/command pairs is registered already.
void register_builtin(HandlerRegistry& registry);

}  // namespace jobgraph::services
