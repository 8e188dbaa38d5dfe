// A fixed table of atomics rather than a locked container: end_running_commands must be
// callable from a signal handler, where neither a lock nor an allocation is allowed.
#include "services/running_commands.hpp"

#include <jobgraph/services.hpp>

#include <array>
#include <atomic>

#include <signal.h>

namespace jobgraph::services {
namespace {

constexpr std::size_t max_noted_groups = 4096;
std::array<std::atomic<pid_t>, max_noted_groups> running_groups{};  // 0: a free slot

static_assert(std::atomic<pid_t>::is_always_lock_free, "signal handlers need lock-free atomics");

}  // namespace

bool note_running_group(pid_t group) noexcept {
    for (auto& slot : running_groups) {
        pid_t free = 0;
        if (slot.compare_exchange_strong(free, group)) return true;
    }
    return false;
}

void forget_running_group(pid_t group) noexcept {
    for (auto& slot : running_groups) {
        pid_t noted = group;
        if (slot.compare_exchange_strong(noted, 0)) return;
    }
}

void end_running_commands() noexcept {
    for (auto& slot : running_groups) {
        const pid_t group = slot.load();
        if (group > 0) ::kill(-group, SIGKILL);
    }
}

}  // namespace jobgraph::services
