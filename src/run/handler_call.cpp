#include "run/handler_call.hpp"

#include "run/job_execution.hpp"

#include "jobgraph/errors.hpp"

namespace jobgraph::detail {

HandlerOutcome call_handler(const TaskRecord& record, const HandlerEntry& entry, const std::stop_token& stop,
                            const CallContext& context) {
    SpawnBuffer spawned;
    TaskContext task_context(record, context.limits, stop, context.outputs, spawned);
    try {
        nlohmann::json result = entry.handler(task_context);
        return interpret_result(std::move(result), spawned.close(), context.outcome);
    } catch (const StopRequested& error) {
        return HandlerOutcome::abort(error.what());
    } catch (const NonRetryableError& error) {
        return stop.stop_requested() ? HandlerOutcome::abort(error.what())
                                     : HandlerOutcome::permanent_failure(error.what());
    } catch (const std::exception& error) {
        return stop.stop_requested() ? HandlerOutcome::abort(error.what()) : HandlerOutcome::failure(error.what());
    } catch (...) {
        return stop.stop_requested() ? HandlerOutcome::abort("unknown exception")
                                     : HandlerOutcome::failure("unknown exception");
    }
}

void start_async_handler(const std::shared_ptr<JobExecution>& run, std::uint32_t task, int attempt,
                         const TaskRecord& record, const HandlerEntry& entry, const std::stop_token& stop) {
    auto state = std::make_shared<CompletionState>(run, task, attempt, record.id, record.depth, stop);
    TaskContext context(record, run->limits(), stop, *run, state->spawned());
    try {
        entry.async_handler(context, Completion(state));
    } catch (const StopRequested& error) {
        state->abort(error.what());
    } catch (const NonRetryableError& error) {
        state->fail(error.what(), /*retryable=*/false);
    } catch (const std::exception& error) {
        state->fail(error.what());
    } catch (...) {
        state->fail("unknown exception");
    }
}

CompletionState::~CompletionState() {
    if (claim()) complete(HandlerOutcome::failure("Asynchronous handler dropped its completion without fulfilling it"));
}

bool CompletionState::succeed(nlohmann::json result) {
    if (!claim()) return false;
    const OutcomeContext context{task_id_, depth_, run_->registry(), run_->plan_mode(), run_->task_defaults()};
    complete(interpret_result(std::move(result), spawned_.close(), context));
    return true;
}

bool CompletionState::fail(std::string message, bool retryable) {
    if (!claim()) return false;
    if (stop_.stop_requested()) {
        complete(HandlerOutcome::abort(std::move(message)));
    } else {
        complete(retryable ? HandlerOutcome::failure(std::move(message))
                           : HandlerOutcome::permanent_failure(std::move(message)));
    }
    return true;
}

bool CompletionState::abort(std::string reason) {
    if (!claim()) return false;
    complete(HandlerOutcome::abort(std::move(reason)));
    return true;
}

void CompletionState::complete(HandlerOutcome outcome) {
    spawned_.close();  // a spawn after the end is refused, not silently lost
    run_->complete(task_, attempt_, std::move(outcome));
}

}  // namespace jobgraph::detail
