#pragma once
// Calling a handler and turning what it did (returned, threw, fulfilled its Completion) into a
// HandlerOutcome for the job to record.

#include "core/handler_outcome.hpp"
#include "run/output_source.hpp"

#include "jobgraph/context.hpp"
#include "jobgraph/registry.hpp"
#include "jobgraph/task_record.hpp"

#include <atomic>
#include <memory>
#include <stop_token>
#include <string>

namespace jobgraph::detail {

class JobExecution;

/// What a handler call needs besides its task.
struct CallContext {
    const JobLimits& limits;
    const OutputSource& outputs;
    OutcomeContext outcome;
};

/// Calls a synchronous handler and interprets its result. Never throws.
HandlerOutcome call_handler(const TaskRecord& record, const HandlerEntry& entry, const std::stop_token& stop,
                            const CallContext& context);

/// Starts an asynchronous handler; its Completion (or its exception) ends the task through
/// @p run, during the call or later.
void start_async_handler(const std::shared_ptr<JobExecution>& run, std::uint32_t task, int attempt,
                         const TaskRecord& record, const HandlerEntry& entry, const std::stop_token& stop);

/// Shared by the copies of one Completion; fails the task if none of them fulfils it.
class CompletionState {
public:
    CompletionState(std::shared_ptr<JobExecution> run, std::uint32_t task, int attempt, std::string task_id, int depth,
                    std::stop_token stop)
        : run_(std::move(run)),
          task_(task),
          attempt_(attempt),
          task_id_(std::move(task_id)),
          depth_(depth),
          stop_(std::move(stop)) {}
    CompletionState(const CompletionState&) = delete;
    CompletionState& operator=(const CompletionState&) = delete;
    ~CompletionState();

    /// The first call wins; later ones return false and change nothing.
    bool succeed(nlohmann::json result);
    bool fail(std::string message, bool retryable = true);
    bool abort(std::string reason);

    const std::stop_token& stop_token() const noexcept { return stop_; }
    SpawnBuffer& spawned() noexcept { return spawned_; }

private:
    bool claim() noexcept { return !claimed_.exchange(true); }
    void complete(HandlerOutcome outcome);

    std::shared_ptr<JobExecution> run_;
    std::uint32_t task_;
    int attempt_;
    std::string task_id_;
    int depth_;
    std::stop_token stop_;
    SpawnBuffer spawned_;
    std::atomic<bool> claimed_{false};
};

}  // namespace jobgraph::detail
