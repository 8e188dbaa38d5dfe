#pragma once
/// @file services.hpp
/// @brief Ready-made handlers: core/echo, core/sleep, core/fail, core/spawn, core/gather,
/// shell/run, and, when built with libcurl (JOBGRAPH_WITH_CURL), http/request and llm/chat.
/// They are what the `jobgraph` runner offers; a program of your own can offer them beside its
/// own handlers. Link `jobgraph::services`. docs/services.md describes each one.

#include <jobgraph/registry.hpp>

namespace jobgraph::services {

/// @brief Registers every built-in service in @p registry. Throws std::invalid_argument if
/// one of their service/command pairs is registered already.
///
/// llm/chat keeps a reference to @p registry: in plan mode it tells the model about every
/// service registered there when it runs (those added later included). Keep the registry where
/// it is (do not move it) for as long as jobs run with it.
///
/// @code
/// jobgraph::HandlerRegistry registry;
/// jobgraph::services::register_builtin(registry);
/// registry.add("images", "resize", resize_image, {.input_example = R"({"path": "a.png", "width": 640})"});
/// @endcode
void register_builtin(HandlerRegistry& registry);

/// @brief Sends SIGKILL to the process group of every program shell/run started that has not
/// been reaped yet, in every job of this process: for a program about to end at once (say, on
/// a second Ctrl-C) that must not leave them running. Async-signal-safe. Processes that left
/// their program's group (setsid) are not reached; a stop request does reach them.
void end_running_commands() noexcept;

}  // namespace jobgraph::services
