#pragma once
// Probes for tests of what a run does over time: a log of handler calls (which task and
// attempt, when each began and ended, how many calls of each limit key ran at once) and named
// signals that handlers and the test thread wait on. Catch2 assertions are not thread-safe, so
// handlers only note what they see here and the test checks it once the run has returned.

#include "helpers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace jobgraph::testing {

/// One handler call as the handler saw it, timed on a sequence shared by every call of a log,
/// so that order and overlap are exact whatever the clock's resolution.
struct CallRecord {
    std::string task;
    int attempt = 0;
    std::vector<std::string> keys;  // "service" and "service/command"
    std::uint64_t began = 0;
    std::uint64_t ended = 0;  // 0 while the call is on
};

class CallLog {
public:
    /// Ends the call when it goes out of scope, however the handler leaves.
    class Scope {
    public:
        Scope(CallLog& log, std::size_t call) : log_(log), call_(call) {}
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;
        ~Scope() { log_.leave(call_); }

    private:
        CallLog& log_;
        std::size_t call_;
    };

    /// Notes that a call of @p ctx's task began; returns its number for leave().
    std::size_t enter(const TaskContext& ctx) {
        const std::lock_guard lock(mutex_);
        CallRecord call{ctx.id(), ctx.attempt(), {ctx.service(), fmt::format("{}/{}", ctx.service(), ctx.command())},
                        ++clock_, 0};
        for (const std::string& key : call.keys) {
            const int now = ++running_[key];
            peak_[key] = std::max(peak_[key], now);
        }
        calls_.push_back(std::move(call));
        changed_.notify_all();
        return calls_.size() - 1;
    }
    [[nodiscard]] Scope scope(const TaskContext& ctx) { return Scope(*this, enter(ctx)); }

    /// Notes that call @p call ended (for an asynchronous handler: just before it fulfils its
    /// completion).
    void leave(std::size_t call) {
        const std::lock_guard lock(mutex_);
        CallRecord& record = calls_.at(call);
        if (record.ended != 0) return;
        record.ended = ++clock_;
        for (const std::string& key : record.keys) --running_[key];
        changed_.notify_all();
    }

    /// A point on the log's sequence, to order an outside event (a cancel) against the calls.
    std::uint64_t tick() {
        const std::lock_guard lock(mutex_);
        return ++clock_;
    }

    /// Waits (five seconds at most) until @p count calls of @p key ran at once at some point.
    bool wait_for_peak(const std::string& key, int count) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(5), [&] { return peak_[key] >= count; });
    }
    /// Waits (five seconds at most) until @p count calls have begun.
    bool wait_for_calls(std::size_t count) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(5), [&] { return calls_.size() >= count; });
    }

    /// The most calls of @p key that ran at once.
    int peak(const std::string& key) const {
        const std::lock_guard lock(mutex_);
        const auto it = peak_.find(key);
        return it == peak_.end() ? 0 : it->second;
    }
    std::vector<CallRecord> calls() const {
        const std::lock_guard lock(mutex_);
        return calls_;
    }
    int calls_of(const std::string& task) const {
        const std::lock_guard lock(mutex_);
        return static_cast<int>(
            std::count_if(calls_.begin(), calls_.end(), [&](const CallRecord& c) { return c.task == task; }));
    }
    /// Ids of the tasks in the order their calls began (a task once per call).
    std::vector<std::string> order() const {
        const std::lock_guard lock(mutex_);
        std::vector<std::string> ids;
        for (const CallRecord& call : calls_) ids.push_back(call.task);
        return ids;
    }
    /// Tasks two of whose calls were on at once, or whose call never ended; empty if none.
    std::set<std::string> overlapping_tasks() const {
        const std::lock_guard lock(mutex_);
        std::map<std::string, std::vector<const CallRecord*>> by_task;
        for (const CallRecord& call : calls_) by_task[call.task].push_back(&call);
        std::set<std::string> overlapping;
        for (const auto& [task, calls] : by_task) {
            for (std::size_t i = 0; i < calls.size(); ++i) {
                if (calls[i]->ended == 0 && i + 1 < calls.size()) overlapping.insert(task);
                if (i > 0 && calls[i - 1]->ended > calls[i]->began) overlapping.insert(task);
            }
        }
        return overlapping;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::uint64_t clock_ = 0;
    std::vector<CallRecord> calls_;
    std::map<std::string, int> running_;
    std::map<std::string, int> peak_;
};

/// Named one-shot signals: a handler or observer raises one, another thread waits for it.
class Signals {
public:
    void raise(const std::string& name) {
        const std::lock_guard lock(mutex_);
        raised_.insert(name);
        changed_.notify_all();
    }
    /// Waits (five seconds at most) for @p name; false if it never came.
    bool wait(const std::string& name) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(5), [&] { return raised_.contains(name); });
    }
    bool raised(const std::string& name) const {
        const std::lock_guard lock(mutex_);
        return raised_.contains(name);
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::set<std::string> raised_;
};

/// An observer that raises "<task id> <status>" for every status change, e.g. "R retrying".
/// Observers are never called concurrently, and only after the change was recorded.
class StatusSignals : public JobObserver {
public:
    explicit StatusSignals(Signals& signals) : signals_(signals) {}
    void on_task_status(const TaskEvent& event) override {
        signals_.raise(fmt::format("{} {}", event.task_id, to_string(event.status)));
    }

private:
    Signals& signals_;
};

/// A retry policy without jitter unless asked, so that its delays are exact.
inline RetryPolicy retry_policy(int max_attempts, std::chrono::milliseconds delay, double backoff = 2.0,
                                std::chrono::milliseconds max_delay = std::chrono::milliseconds(60000),
                                bool jitter = false) {
    return RetryPolicy{.max_attempts = max_attempts, .delay = delay, .backoff = backoff, .max_delay = max_delay,
                       .jitter = jitter};
}

/// The delays named by a task's `retrying` history entries ("...; next attempt in <ms> ms"),
/// in order; -1 for an entry that does not say so.
inline std::vector<long long> retry_delays(const TaskRecord& record) {
    static const std::regex pattern(R"(^Attempt \d+ of \d+ failed: .*; next attempt in (\d+) ms$)");
    std::vector<long long> delays;
    for (const HistoryEntry& entry : record.history) {
        if (entry.status != TaskStatus::retrying) continue;
        std::smatch match;
        delays.push_back(std::regex_match(entry.reason, match, pattern) ? std::stoll(match[1].str()) : -1);
    }
    return delays;
}

/// For every `retrying` entry followed by a `started` one: the microseconds between the two.
inline std::vector<long long> retry_gaps_us(const TaskRecord& record) {
    std::vector<long long> gaps;
    for (std::size_t i = 0; i + 1 < record.history.size(); ++i) {
        if (record.history[i].status != TaskStatus::retrying) continue;
        for (std::size_t j = i + 1; j < record.history.size(); ++j) {
            if (record.history[j].status == TaskStatus::started) {
                gaps.push_back((record.history[j].at - record.history[i].at).count());
                break;
            }
        }
    }
    return gaps;
}

// Starts that the job's stop withdrew before their handler was called (with a store a worker
// holds up to eight started tasks): they count as attempts, not as calls. An interrupt names
// them; any other stop ends them aborted like the attempts that gave up.
inline int uncalled_starts(const TaskRecord& record) {
    int count = 0;
    for (const auto& entry : record.history) count += entry.reason == "Interrupted before its handler was called";
    return count;
}

// The attempt that ended the task aborted straight from `started` may never have been called.
inline bool may_be_uncalled(const TaskRecord& record) {
    const auto& history = record.history;
    return record.status == TaskStatus::aborted && history.size() >= 2 &&
           history[history.size() - 2].status == TaskStatus::started;
}

inline int started_entries(const TaskRecord& record) {
    return static_cast<int>(std::count_if(record.history.begin(), record.history.end(),
                                          [](const HistoryEntry& e) { return e.status == TaskStatus::started; }));
}

}  // namespace jobgraph::testing
