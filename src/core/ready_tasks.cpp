#include "core/ready_tasks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>

namespace jobgraph::detail {

// --- PriorityReadyQueue ----------------------------------------------------------------------

void PriorityReadyQueue::push(Index task, int priority) {
    auto level = std::find_if(levels_.begin(), levels_.end(), [&](const Level& l) { return l.priority <= priority; });
    if (level == levels_.end() || level->priority != priority) level = levels_.insert(level, Level{priority, {}});
    level->tasks.push(task);
    ++size_;
}

PriorityReadyQueue::Level& PriorityReadyQueue::first_nonempty() {
    assert(size_ > 0);
    for (Level& level : levels_) {
        if (!level.tasks.empty()) return level;
    }
    return levels_.back();  // unreachable while size_ > 0
}

std::pair<int, PriorityReadyQueue::Index> PriorityReadyQueue::front() {
    Level& level = first_nonempty();
    return {level.priority, level.tasks.front()};
}

PriorityReadyQueue::Index PriorityReadyQueue::pop() {
    const Index task = first_nonempty().tasks.pop();
    --size_;
    return task;
}

void PriorityReadyQueue::clear() noexcept {
    for (Level& level : levels_) level.tasks.clear();
    size_ = 0;
}

// --- ReadyTasks ------------------------------------------------------------------------------

ReadyTasks::ReadyTasks(const std::map<std::string, std::int64_t, std::less<>>& concurrency, SharedSlots* shared)
    : shared_(shared), groups_(1) {
    for (const auto& [key, most] : concurrency) {
        limit_by_key_.emplace(key, limits_.size());
        limits_.push_back(Limit{most});
    }
}

ReadyTasks::Group ReadyTasks::group_of(const HandlerEntry* handler) {
    if (!handler || (limits_.empty() && (!shared_ || handler->options.max_concurrency == 0))) return 0;
    if (const auto known = group_by_handler_.find(handler); known != group_by_handler_.end()) return known->second;
    GroupState group;
    for (const std::string& key : {handler->service, fmt::format("{}/{}", handler->service, handler->command)}) {
        if (const auto limit = limit_by_key_.find(key); limit != limit_by_key_.end()) group.limits.push_back(limit->second);
    }
    if (shared_ && handler->options.max_concurrency > 0) group.shared = handler;
    Group index = 0;
    if (!group.limits.empty() || group.shared) {
        index = static_cast<Group>(groups_.size());
        groups_.push_back(std::move(group));
    }
    group_by_handler_.emplace(handler, index);
    return index;
}

void ReadyTasks::push(Index task, Group group, int priority) {
    groups_[group].ready.push(task, priority);
    ++size_;
}

bool ReadyTasks::room_in(const GroupState& group) const {
    return std::all_of(group.limits.begin(), group.limits.end(),
                       [&](std::size_t limit) { return limits_[limit].running < limits_[limit].most; });
}

std::optional<ReadyTasks::Index> ReadyTasks::pop_startable() {
    if (size_ == 0) return std::nullopt;
    if (groups_.size() == 1) {  // no limits: the fast path
        --size_;
        return groups_[0].ready.pop();
    }
    // Few groups: look at each one's first task. A group whose shared slots are all taken is
    // skipped for the rest of this call.
    refused_.assign(groups_.size(), 0);
    for (;;) {
        std::optional<std::pair<int, Index>> best;
        Group best_group = 0;
        for (Group g = 0; g < groups_.size(); ++g) {
            GroupState& group = groups_[g];
            if (group.ready.empty() || refused_[g] || !room_in(group)) continue;
            const auto [priority, task] = group.ready.front();
            if (!best || priority > best->first || (priority == best->first && task < best->second)) {
                best = std::pair{priority, task};
                best_group = g;
            }
        }
        if (!best) return std::nullopt;
        GroupState& group = groups_[best_group];
        if (group.shared && !shared_->try_take(*group.shared)) {
            refused_[best_group] = 1;
            continue;
        }
        for (const std::size_t limit : group.limits) ++limits_[limit].running;
        --size_;
        return group.ready.pop();
    }
}

void ReadyTasks::release(Group group) {
    if (group == 0) return;
    GroupState& state = groups_[group];
    for (const std::size_t limit : state.limits) --limits_[limit].running;
    if (state.shared) shared_->give_back(*state.shared);
}

void ReadyTasks::clear() noexcept {
    for (GroupState& group : groups_) group.ready.clear();
    size_ = 0;
}

}  // namespace jobgraph::detail
