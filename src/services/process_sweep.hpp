#pragma once
/// @file process_sweep.hpp
/// @brief Finds the processes a program started, even those that left its process group
/// (setsid, setpgid), by a marker variable they inherit in their environment.

#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace jobgraph::services {

/// @brief The environment variable shell/run gives every program it starts; its descendants
/// inherit it. The value is unique to one run of one program.
inline constexpr std::string_view process_marker_variable = "JOBGRAPH_RUN_MARKER";

/// @brief A fresh "JOBGRAPH_RUN_MARKER=<value>" entry, unique within this machine's uptime.
std::string new_process_marker();

/// @brief Live processes whose environment, as they were started, holds @p marker_entry
/// (NAME=VALUE). Reads /proc (Linux); only processes of the same user are readable. Empty
/// where there is no /proc.
std::vector<pid_t> processes_marked_with(std::string_view marker_entry);

/// @brief Sends SIGKILL to every process marked with @p marker_entry, again and again until
/// none is left (a marked process may fork while it is being killed); gives up after about a
/// second against a process that keeps forking.
void kill_marked_processes(std::string_view marker_entry);

}  // namespace jobgraph::services
