#pragma once
/// @file running_commands.hpp
/// @brief The process groups shell/run has started and not yet reaped, so that a program
/// ending at once (a second Ctrl-C) can end them too (services.hpp, end_running_commands).

#include <sys/types.h>

namespace jobgraph::services {

/// @brief Notes @p group (a started program's process group); false when every slot is taken,
/// in which case end_running_commands will not reach it.
bool note_running_group(pid_t group) noexcept;
/// @brief Forgets @p group; called before its leader is reaped, so its id is never reused while noted.
void forget_running_group(pid_t group) noexcept;

}  // namespace jobgraph::services
