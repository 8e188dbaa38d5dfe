#pragma once
// The tasks ready to start, with what decides which goes first: priority (higher first, then
// creation order) and concurrency limits (a task starts only while every limit that covers it
// has room). Tasks of one service/command pair are covered by the same limits, so each pair
// that any limit covers gets a group of its own; a group held back by a full limit never holds
// back another. Tasks no limit covers share group 0, which is all there is in most jobs.

#include "core/ready_queue.hpp"

#include "jobgraph/registry.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace jobgraph::detail {

/// Limits shared by every job of an orchestrator (HandlerOptions::max_concurrency).
class SharedSlots {
public:
    virtual ~SharedSlots() = default;
    /// Takes one of the handler's slots, or returns false if all are taken (the caller is then
    /// woken once one comes free).
    virtual bool try_take(const HandlerEntry& handler) = 0;
    virtual void give_back(const HandlerEntry& handler) = 0;
};

/// Ready tasks of one group, highest priority first, then creation order.
class PriorityReadyQueue {
public:
    using Index = ReadyQueue::Index;

    void push(Index task, int priority);
    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    /// The task that goes first and its priority. Not empty.
    std::pair<int, Index> front();
    Index pop();
    void clear() noexcept;

private:
    struct Level {
        int priority;
        ReadyQueue tasks;
    };
    Level& first_nonempty();

    std::vector<Level> levels_;  // by priority, highest first; most jobs have one
    std::size_t size_ = 0;
};

class ReadyTasks {
public:
    using Index = ReadyQueue::Index;
    using Group = std::uint32_t;

    /// @p concurrency: the job's limits by key ("service" or "service/command"). @p shared: the
    /// orchestrator's handler limits, or nullptr.
    ReadyTasks(const std::map<std::string, std::int64_t, std::less<>>& concurrency, SharedSlots* shared);

    /// The group of tasks run by @p handler.
    Group group_of(const HandlerEntry* handler);

    void push(Index task, Group group, int priority);
    /// The task that should start next among those every limit lets start, with its limits'
    /// slots taken; nullopt if none can start.
    std::optional<Index> pop_startable();
    /// A task of @p group stopped holding its slots (its handler call ended).
    void release(Group group);

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    /// Forgets every ready task (the job is stopping).
    void clear() noexcept;

private:
    struct Limit {
        std::int64_t most;
        std::int64_t running = 0;
    };
    struct GroupState {
        PriorityReadyQueue ready;
        std::vector<std::size_t> limits;     // into limits_
        const HandlerEntry* shared = nullptr;  // its handler has a limit across jobs
    };
    bool room_in(const GroupState& group) const;

    std::map<std::string, std::size_t, std::less<>> limit_by_key_;
    std::vector<Limit> limits_;
    SharedSlots* shared_;
    std::vector<GroupState> groups_;  // [0]: tasks no limit covers
    std::unordered_map<const HandlerEntry*, Group> group_by_handler_;
    std::vector<char> refused_;  // pop_startable()'s scratch: groups whose shared slots are taken
    std::size_t size_ = 0;
};

}  // namespace jobgraph::detail
