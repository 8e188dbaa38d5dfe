#pragma once
// What one handler call came to, worked out on the worker before the job's lock is taken:
// the output, the trace and the spawned children, checked as far as they can be without the
// graph (docs/semantics.md).

#include "jobgraph/context.hpp"
#include "jobgraph/registry.hpp"
#include "jobgraph/spec.hpp"
#include "graph/task_graph.hpp"
#include "jobgraph/task_record.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace jobgraph::detail {

struct HandlerOutcome {
    enum class Kind { succeeded, failed, aborted };

    Kind kind = Kind::succeeded;
    nlohmann::json output;                      // stored output (for failures {"error": message})
    nlohmann::json trace;                       // null when none was set
    std::string message;                        // failure or abort reason
    bool retryable = true;                      // a failure another attempt might mend
    std::vector<TaskRecord> children;           // the spawned batch, as records ready to add but for their ids
    std::vector<TaskGraph::NewTask> batch;      // ids and dependencies, per child
    std::vector<std::string> child_ids;         // for the parent's record
    std::vector<const HandlerEntry*> handlers;  // per child

    static HandlerOutcome success(nlohmann::json output = nlohmann::json::object());
    static HandlerOutcome failure(std::string message);
    /// A failure no retry can mend (NonRetryableError, Completion::fail_permanently).
    static HandlerOutcome permanent_failure(std::string message);
    static HandlerOutcome abort(std::string message);
};

/// What the task needs to know to interpret its handler's result.
struct OutcomeContext {
    std::string_view task_id;
    int depth;  // the task's; its children are one deeper
    const HandlerRegistry& registry;
    bool plan_mode;  // children whose handler has side effects are added as planned
    const TaskDefaults& task_defaults;  // for children that set no timeout, retry or priority
};

/// Splits a returned result into output, trace and children, and checks each child against
/// the registry. Any problem turns the outcome into a failure with the contract's message.
/// The children come out as records, so that the job's lock is held only to move them in.
HandlerOutcome interpret_result(nlohmann::json result, SpawnedWork spawned, const OutcomeContext& context);

}  // namespace jobgraph::detail
