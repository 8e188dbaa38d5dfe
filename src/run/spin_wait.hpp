#pragma once
// Waiting a moment before sleeping. A thread that blocks and is woken again pays for two trips
// through the kernel and, under a hypervisor, for waking an idle virtual CPU: several to tens
// of microseconds, more than many of the waits it would end. Where the awaited event is
// usually that close, polling for it first (spinning) is cheaper.

#include <chrono>
#include <thread>

namespace jobgraph::detail {

// Polling needs a pause instruction: without one the poll would slow down the very thread
// that is to end the wait, if the two share a core.
#if defined(__x86_64__) || defined(__i386__)
inline constexpr bool can_spin = true;
inline void cpu_relax() noexcept {
    __builtin_ia32_pause();
}
#else
inline constexpr bool can_spin = false;
inline void cpu_relax() noexcept {}
#endif

/// @brief Whether a wait with this budget polls at all.
inline bool will_poll(std::chrono::microseconds budget) noexcept {
    return can_spin && budget > std::chrono::microseconds::zero();
}

/// @brief Polls done() for up to @p budget; returns whether it turned true. The poller gives
/// its core away now and then, so a thread that shares the core and is to end the wait gets to
/// run. Without polling (no budget, or no pause instruction) it checks once.
template <typename Done>
bool spin_until(Done done, std::chrono::microseconds budget) {
    if (!will_poll(budget)) return done();
    constexpr unsigned polls_per_yield = 16;
    // Elapsed time in the budget's unit: a deadline in the clock's nanoseconds could overflow
    // for a budget meant as "for ever".
    const auto start = std::chrono::steady_clock::now();
    for (unsigned polls = 1;; ++polls) {
        if (done()) return true;
        if (std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start) >= budget)
            return false;
        cpu_relax();
        if (polls % polls_per_yield == 0) std::this_thread::yield();
    }
}

/// @brief spin_until with @p lock released while it polls and taken again after; the lock is
/// kept throughout where there is no polling to do.
template <typename Lock, typename Done>
void spin_unlocked(Lock& lock, Done done, std::chrono::microseconds budget) {
    if (!will_poll(budget)) return;
    lock.unlock();
    spin_until(done, budget);
    lock.lock();
}

}  // namespace jobgraph::detail
