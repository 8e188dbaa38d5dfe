#pragma once
// A timer thread: runs callbacks at their due time, in order. Asynchronous handlers use it to
// fulfil their jobgraph::Completion later without holding a worker.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace bench {

class TimerThread {
public:
    using Clock = std::chrono::steady_clock;

    TimerThread() : thread_([this](std::stop_token stop) { loop(stop); }) {}
    ~TimerThread() {
        thread_.request_stop();
        wake_.notify_all();
    }
    TimerThread(const TimerThread&) = delete;
    TimerThread& operator=(const TimerThread&) = delete;

    /// Runs @p callback on the timer thread at @p due (or as soon after as it can).
    void at(Clock::time_point due, std::function<void()> callback) {
        bool earliest = false;
        {
            std::lock_guard lock(mutex_);
            earliest = queue_.empty() || due < queue_.top().due;
            queue_.push(Entry{due, sequence_++, std::move(callback)});
        }
        if (earliest) wake_.notify_one();
    }

private:
    struct Entry {
        Clock::time_point due;
        std::uint64_t sequence;  // keeps equal due times in submission order
        std::function<void()> callback;
        bool operator>(const Entry& other) const {
            return due != other.due ? due > other.due : sequence > other.sequence;
        }
    };

    void loop(const std::stop_token& stop) {
        std::unique_lock lock(mutex_);
        while (!stop.stop_requested()) {
            if (queue_.empty()) {
                wake_.wait(lock, [&] { return stop.stop_requested() || !queue_.empty(); });
                continue;
            }
            const auto due = queue_.top().due;
            if (Clock::now() < due) {
                wake_.wait_until(lock, due);
                continue;
            }
            // Everything due now runs outside the lock, so callbacks may schedule more.
            std::vector<std::function<void()>> batch;
            const auto now = Clock::now();
            while (!queue_.empty() && queue_.top().due <= now) {
                batch.push_back(std::move(const_cast<Entry&>(queue_.top()).callback));
                queue_.pop();
            }
            lock.unlock();
            for (auto& callback : batch) callback();
            lock.lock();
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> queue_;
    std::uint64_t sequence_ = 0;
    std::jthread thread_;  // last: starts after the members it uses exist
};

}  // namespace bench
