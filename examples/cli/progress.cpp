#include "progress.hpp"

#include "terminal_text.hpp"

#include <fmt/format.h>

namespace jobgraph::cli {

using namespace std::chrono_literals;

ProgressLine::ProgressLine(std::FILE* terminal) : terminal_(terminal) {}

ProgressLine::~ProgressLine() { stop_ticking(); }

void ProgressLine::on_job_started(std::string_view job_name, std::size_t /*initial_tasks*/) {
    std::lock_guard lock(mutex_);
    job_name_ = terminal_safe(job_name);
    started_ = std::chrono::steady_clock::now();
    redraw_locked();
    // Elapsed time should move even while a long task produces no events.
    ticker_ = std::thread([this] { tick(); });
}

void ProgressLine::on_task_status(const TaskEvent& event) {
    std::lock_guard lock(mutex_);
    auto [it, created] = statuses_.try_emplace(event.task_id, event.status);
    const TaskStatus before = created ? TaskStatus::pending : it->second;
    it->second = event.status;
    if (created) ++counts_.total;
    if (before == TaskStatus::started && counts_.running > 0) --counts_.running;
    if (before == TaskStatus::retrying && counts_.retrying > 0) --counts_.retrying;
    switch (event.status) {
        case TaskStatus::started: ++counts_.running; break;
        case TaskStatus::retrying: ++counts_.retrying; break;
        case TaskStatus::failed:
        case TaskStatus::aborted: ++counts_.failed; ++counts_.done; break;
        case TaskStatus::planned: ++counts_.planned; ++counts_.done; break;
        case TaskStatus::succeeded: ++counts_.done; break;
        case TaskStatus::pending: break;
    }
    redraw_if_due_locked();
}

void ProgressLine::on_job_finished(const JobResult& /*result*/) {
    stop_ticking();
    std::lock_guard lock(mutex_);
    fmt::print(terminal_, "\r\033[2K");  // erase the line; the summary follows
    std::fflush(terminal_);
}

ProgressCounts ProgressLine::counts() const {
    std::lock_guard lock(mutex_);
    return counts_;
}

// A job with thousands of tasks would otherwise spend its time writing to the terminal.
void ProgressLine::redraw_if_due_locked() {
    if (std::chrono::steady_clock::now() - last_drawn_ >= 50ms) redraw_locked();
}

void ProgressLine::redraw_locked() {
    if (finished_) return;
    last_drawn_ = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    fmt::print(terminal_, "\r\033[2K{} [{}/{}] running {}, failed {}{}{}, {:.1f}s", job_name_, counts_.done,
               counts_.total, counts_.running, counts_.failed,
               counts_.retrying ? fmt::format(", retrying {}", counts_.retrying) : "",
               counts_.planned ? fmt::format(", planned {}", counts_.planned) : "", elapsed);
    std::fflush(terminal_);
}

void ProgressLine::tick() {
    std::unique_lock lock(mutex_);
    while (!finished_) {
        wake_.wait_for(lock, 200ms);
        redraw_locked();
    }
}

void ProgressLine::stop_ticking() {
    {
        std::lock_guard lock(mutex_);
        finished_ = true;
    }
    wake_.notify_all();
    if (ticker_.joinable()) ticker_.join();
}

}  // namespace jobgraph::cli
