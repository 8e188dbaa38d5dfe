#pragma once
// The limits handlers set for themselves (HandlerOptions::max_concurrency), shared by every
// job an orchestrator runs. A run that finds a handler's slots all taken is remembered and
// poked when one comes free, whichever job gives it back.

#include "jobgraph/registry.hpp"

#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace jobgraph::detail {

class JobExecution;

class HandlerSlots {
public:
    /// Takes a slot of @p handler; if none is free, remembers @p waiter and returns false.
    bool try_take(const HandlerEntry& handler, const std::weak_ptr<JobExecution>& waiter);
    /// Frees a slot; the runs that waited for one are added to @p to_wake.
    void give_back(const HandlerEntry& handler, std::vector<std::weak_ptr<JobExecution>>& to_wake);

private:
    struct Slots {
        std::size_t taken = 0;
        std::vector<std::weak_ptr<JobExecution>> waiters;
    };
    std::mutex mutex_;
    std::unordered_map<const HandlerEntry*, Slots> slots_;
};

}  // namespace jobgraph::detail
