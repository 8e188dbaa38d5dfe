#include "run/handler_slots.hpp"

#include <algorithm>

namespace jobgraph::detail {

bool HandlerSlots::try_take(const HandlerEntry& handler, const std::weak_ptr<JobExecution>& waiter) {
    const std::lock_guard lock(mutex_);
    Slots& slots = slots_[&handler];
    if (slots.taken < handler.options.max_concurrency) {
        ++slots.taken;
        return true;
    }
    const bool known = std::any_of(slots.waiters.begin(), slots.waiters.end(), [&](const auto& other) {
        return !other.owner_before(waiter) && !waiter.owner_before(other);
    });
    if (!known) slots.waiters.push_back(waiter);
    return false;
}

void HandlerSlots::give_back(const HandlerEntry& handler, std::vector<std::weak_ptr<JobExecution>>& to_wake) {
    const std::lock_guard lock(mutex_);
    Slots& slots = slots_[&handler];
    if (slots.taken > 0) --slots.taken;
    for (auto& waiter : slots.waiters) to_wake.push_back(std::move(waiter));
    slots.waiters.clear();
}

}  // namespace jobgraph::detail
