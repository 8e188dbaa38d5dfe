#pragma once
// Whether a lease's holder can still be alive: the part of taking over a lease that asks the
// operating system rather than the clock.

#include <cstdint>
#include <string>
#include <string_view>

namespace jobgraph::detail {

/// @brief This machine's name, as LeaseHolder::host records it.
std::string this_host();

/// @brief True when @p host is this machine and no process @p pid exists on it any more. A
/// holder on another machine, or one whose pid cannot be checked, is never taken to have exited.
bool holder_has_exited(std::string_view host, std::int64_t pid);

}  // namespace jobgraph::detail
