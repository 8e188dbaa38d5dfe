#include "sinks/observer_sink.hpp"

#include <fmt/format.h>

#include <exception>
#include <utility>

namespace jobgraph::detail {
namespace {

template <typename... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <typename... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace

template <typename Call>
void ObserverSink::guarded(Call&& call) {
    if (failure_) return;
    try {
        call();
    } catch (const std::exception& error) {
        failure_ = error.what();
        failed_at_ = now_utc();
    } catch (...) {
        failure_ = "unknown exception";
        failed_at_ = now_utc();
    }
}

void ObserverSink::job_started(std::string_view name, std::size_t initial_tasks) {
    const std::lock_guard serial(delivery_mutex_);
    guarded([&] { observer_.on_job_started(name, initial_tasks); });
}

void ObserverSink::queue(std::vector<JobEvent>& events) {
    if (events.empty()) return;
    const std::lock_guard lock(queue_mutex_);
    if (queued_.empty()) {
        queued_.swap(events);
    } else {
        for (JobEvent& event : events) queued_.push_back(std::move(event));
        events.clear();
    }
}

void ObserverSink::deliver() {
    const std::lock_guard serial(delivery_mutex_);
    for (;;) {
        {
            const std::lock_guard lock(queue_mutex_);
            delivering_.clear();
            delivering_.swap(queued_);
        }
        if (delivering_.empty()) return;
        for (const JobEvent& event : delivering_) {
            guarded([&] {
                std::visit(Overloaded{[&](const TaskEvent& e) { observer_.on_task_status(e); },
                                      [&](const SpawnEvent& e) { observer_.on_spawn(e); }},
                           event);
            });
        }
    }
}

void ObserverSink::job_finished(JobResult& result) {
    deliver();
    const std::lock_guard serial(delivery_mutex_);
    guarded([&] { observer_.on_job_finished(result); });
    if (!failure_) return;
    // Before the final entry: the job was still running when its observer failed.
    const auto last = result.history.empty() ? result.history.end() : std::prev(result.history.end());
    result.history.insert(
        last, JobHistoryEntry{JobStatus::running, failed_at_,
                              fmt::format("Observer failed: {}; it was not called again", *failure_)});
}

}  // namespace jobgraph::detail
