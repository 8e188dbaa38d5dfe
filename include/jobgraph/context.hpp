#pragma once
/// @file context.hpp
/// @brief What a handler sees of its task and job (docs/semantics.md), and the completion
/// an asynchronous handler fulfils later.

#include "jobgraph/spec.hpp"
#include "jobgraph/task_record.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace jobgraph {

namespace detail {
class CompletionState;
class OutputSource;

/// Children and trace a handler hands over through its context; merged with its return value.
struct SpawnedWork {
    std::vector<TaskSpec> children{};
    std::optional<nlohmann::json> trace{};
};

/// Collects a handler's spawns and trace from any of its threads until the handler is done.
class SpawnBuffer {
public:
    void add(TaskSpec child);
    void set_trace(nlohmann::json trace);
    /// What was handed over; later calls of add() and set_trace() throw std::logic_error.
    SpawnedWork close();

private:
    std::mutex mutex_;
    bool closed_ = false;
    SpawnedWork work_;
};
}  // namespace detail

/// @brief A handler's view of its task. Valid for the duration of the handler call.
class TaskContext {
public:
    /// @brief Used by the orchestrator; handlers receive a ready-made context.
    /// Like the other arguments, @p stop is referred to, not copied (copying a token counts a
    /// reference on the state that every worker shares), so it must outlive the context.
    TaskContext(const TaskRecord& task, const JobLimits& limits, const std::stop_token& stop,
                const detail::OutputSource& outputs, detail::SpawnBuffer& spawned) noexcept
        : task_(task), limits_(limits), stop_(stop), outputs_(outputs), spawned_(spawned) {}
    /// A temporary token would be gone before the handler reads it.
    TaskContext(const TaskRecord& task, const JobLimits& limits, std::stop_token&& stop,
                const detail::OutputSource& outputs, detail::SpawnBuffer& spawned) = delete;

    /// @brief The task's id, e.g. "0-1".
    const std::string& id() const noexcept { return task_.id; }
    /// @brief The parent's id; nullopt for a root task.
    const std::optional<std::string>& parent_id() const noexcept { return task_.parent_id; }
    /// @brief Roots are 0; a child is its parent's depth plus one.
    int depth() const noexcept { return task_.depth; }
    const std::string& service() const noexcept { return task_.service; }
    const std::string& command() const noexcept { return task_.command; }
    /// @brief The ids this task depends on, as declared.
    const std::vector<std::string>& depends_on() const noexcept { return task_.depends_on; }
    /// @brief The task's JSON input (always an object).
    const nlohmann::json& input() const noexcept { return task_.input; }
    /// @brief 1 on the first call; higher on a retry, or when a resumed job runs the task again.
    int attempt() const noexcept { return task_.attempts; }
    /// @brief The job's limits (maxTasks, maxDepth, timeout).
    const JobLimits& limits() const noexcept { return limits_; }

    /// @brief The output of a task that has succeeded; nullopt for any other. Thread-safe.
    std::optional<nlohmann::json> output_of(std::string_view task_id) const;

    /// @brief Adds a child to this task's spawned batch (checked and added when the handler
    /// returns). Safe to call from any thread while the handler runs; once it has returned (or
    /// fulfilled its Completion) the call throws std::logic_error and adds nothing.
    void spawn(TaskSpec child) { spawned_.add(std::move(child)); }
    /// @brief Stores @p trace apart from the output. Thread-safe like spawn().
    void set_trace(nlohmann::json trace) { spawned_.set_trace(std::move(trace)); }

    /// @brief Turns on when the job stops (timeout, failure with abortOnFailure, cancel,
    /// interrupt) or this attempt runs out of its task's `timeout`.
    const std::stop_token& stop_token() const noexcept { return stop_; }
    bool stop_requested() const noexcept { return stop_.stop_requested(); }
    /// @brief Throws StopRequested if the job asked its handlers to stop.
    void throw_if_stop_requested() const;

private:
    const TaskRecord& task_;
    const JobLimits& limits_;
    const std::stop_token& stop_;
    const detail::OutputSource& outputs_;
    detail::SpawnBuffer& spawned_;
};

/// @brief The pending result of an asynchronous handler, fulfilled once from any thread.
///
/// Copies share one completion; the first call of succeed/fail/abort wins and later calls
/// return false. If every copy is destroyed unfulfilled, the task fails.
class Completion {
public:
    explicit Completion(std::shared_ptr<detail::CompletionState> state) noexcept : state_(std::move(state)) {}

    /// @brief Finishes the task with a handler result (may hold "output", "childTasks", "trace").
    bool succeed(nlohmann::json result = nlohmann::json::object()) const;
    /// @brief Fails this attempt with this error message; the task's `retry` may try again.
    bool fail(std::string message) const;
    /// @brief Fails the task for good, however many attempts its `retry` allows (as throwing
    /// NonRetryableError does).
    bool fail_permanently(std::string message) const;
    /// @brief Ends the task `aborted`, for a handler that gave up after a stop request.
    bool abort(std::string reason = "Stopped on request") const;
    /// @brief Turns on when the job times out or aborts; register a std::stop_callback on it.
    std::stop_token stop_token() const noexcept;

private:
    std::shared_ptr<detail::CompletionState> state_;
};

}  // namespace jobgraph
