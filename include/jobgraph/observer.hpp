#pragma once
/// @file observer.hpp
/// @brief Callbacks for watching a job run: start, every status change, every spawn, finish.
///
/// The orchestrator calls an observer's methods one at a time, never concurrently, in the
/// order the changes were recorded, and never while it holds its own locks: an observer may
/// keep plain (unlocked) state and may call back into the library. on_job_finished is the last
/// call and returns before Orchestrator::run does. Event times increase along each task's
/// events; across tasks a success, timed as its handler returned, may come before an event
/// delivered ahead of it.

#include "jobgraph/result.hpp"
#include "jobgraph/status.hpp"
#include "jobgraph/time.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace jobgraph {

/// @brief A task changed status (including its creation as `pending`).
struct TaskEvent {
    std::string task_id{};
    TaskStatus status = TaskStatus::pending;
    Timestamp at{};
    std::string reason{};  ///< empty when there is none
};

/// @brief A running task's batch of children was added to the job.
struct SpawnEvent {
    std::string parent_id{};
    std::vector<std::string> child_ids{};
};

/// @brief Override what you need; every method does nothing by default.
class JobObserver {
public:
    virtual ~JobObserver() = default;
    /// @brief The job passed validation and is about to start its first task.
    virtual void on_job_started(std::string_view /*job_name*/, std::size_t /*initial_tasks*/) {}
    virtual void on_task_status(const TaskEvent& /*event*/) {}
    virtual void on_spawn(const SpawnEvent& /*event*/) {}
    /// @brief The job is over; @p result is what run() is about to return.
    virtual void on_job_finished(const JobResult& /*result*/) {}
};

}  // namespace jobgraph
