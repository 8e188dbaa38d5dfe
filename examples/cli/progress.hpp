#pragma once
/// @file progress.hpp
/// @brief The live progress line on a terminal: done/total, running, failed, elapsed.

#include <jobgraph/observer.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace jobgraph::cli {

/// @brief Counts tasks by state from the observer's events.
struct ProgressCounts {
    std::size_t total = 0;
    std::size_t done = 0;
    std::size_t running = 0;
    std::size_t failed = 0;   ///< failed or aborted
    std::size_t planned = 0;
    std::size_t retrying = 0;
};

/// @brief Draws "[done/total] running r, failed f, 1.2s" on one line of @p terminal, redrawn on
/// every event and a few times a second in between, and erased when the job finishes.
class ProgressLine : public JobObserver {
public:
    explicit ProgressLine(std::FILE* terminal);
    ~ProgressLine() override;
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;

    void on_job_started(std::string_view job_name, std::size_t initial_tasks) override;
    void on_task_status(const TaskEvent& event) override;
    void on_job_finished(const JobResult& result) override;

    /// @brief The counts so far (for tests and the final line).
    ProgressCounts counts() const;

private:
    void redraw_locked();
    void redraw_if_due_locked();
    void tick();
    void stop_ticking();

    std::FILE* terminal_;
    // The library serialises observer calls; the lock is for the ticker thread.
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool finished_ = false;
    std::string job_name_;  // terminal_safe
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point last_drawn_{};
    std::unordered_map<std::string, TaskStatus> statuses_;
    ProgressCounts counts_;
    std::thread ticker_;
};

}  // namespace jobgraph::cli
