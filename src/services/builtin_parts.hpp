#pragma once
/// @file builtin_parts.hpp
/// @brief Each group of built-in services registers itself; register_builtin calls them all.

#include <jobgraph/registry.hpp>

namespace jobgraph::services {

/// core/echo, core/sleep, core/fail, core/spawn, core/gather.
void register_core_services(HandlerRegistry& registry);
/// shell/run.
void register_shell_service(HandlerRegistry& registry);
#ifdef JOBGRAPH_WITH_CURL
/// http/request.
void register_http_service(HandlerRegistry& registry);
/// llm/chat. The handler keeps a reference to @p registry, whose services it tells the model
/// about in plan mode: the registry must outlive every job run with it (as it must anyway).
void register_llm_service(HandlerRegistry& registry);
#endif

}  // namespace jobgraph::services
