#include "core/handler_outcome.hpp"

#include "jobgraph/validation.hpp"
#include "model/json_limits.hpp"
#include "spec/policy_checks.hpp"
#include "spec/prepared_job.hpp"
#include "spec/spec_reader.hpp"
#include "spec/task_policy.hpp"

#include <fmt/format.h>

#include <map>
#include <string_view>
#include <type_traits>

namespace jobgraph::detail {

HandlerOutcome HandlerOutcome::success(nlohmann::json output) {
    HandlerOutcome outcome;
    outcome.output = std::move(output);
    return outcome;
}

HandlerOutcome HandlerOutcome::failure(std::string message) {
    HandlerOutcome outcome;
    outcome.kind = Kind::failed;
    outcome.output = nlohmann::json{{"error", message}};
    outcome.message = std::move(message);
    return outcome;
}

HandlerOutcome HandlerOutcome::permanent_failure(std::string message) {
    HandlerOutcome outcome = failure(std::move(message));
    outcome.retryable = false;
    return outcome;
}

HandlerOutcome HandlerOutcome::abort(std::string message) {
    HandlerOutcome outcome = failure(std::move(message));
    outcome.kind = Kind::aborted;
    return outcome;
}

namespace {

constexpr std::string_view child_tasks_key = "childTasks";
constexpr std::string_view trace_key = "trace";
constexpr std::string_view output_key = "output";
// interpret_result erases entries while it holds iterators to others: a std::map keeps them
// valid, a vector-backed object (ordered_json) would not.
static_assert(std::is_same_v<nlohmann::json::object_t,
                             std::map<nlohmann::json::string_t, nlohmann::json, nlohmann::json::object_comparator_t>>,
              "interpret_result relies on std::map's iterators");

}  // namespace

HandlerOutcome interpret_result(nlohmann::json result, SpawnedWork spawned, const OutcomeContext& context) {
    // Checked before anything copies, dumps or compares them: those recurse.
    if (depth_exceeds(result)) {
        return HandlerOutcome::failure(fmt::format("Handler result nests deeper than {} levels", max_json_depth));
    }
    if (spawned.trace && depth_exceeds(*spawned.trace)) {
        return HandlerOutcome::failure(fmt::format("Handler trace nests deeper than {} levels", max_json_depth));
    }
    HandlerOutcome outcome;
    std::vector<TaskSpec> children = std::move(spawned.children);
    if (spawned.trace) outcome.trace = std::move(*spawned.trace);
    std::vector<std::string> problems;

    if (result.is_object()) {
        auto& object = result.get_ref<nlohmann::json::object_t&>();
        const auto child_tasks = object.find(child_tasks_key);
        const auto trace = object.find(trace_key);
        const auto output = object.find(output_key);
        if (child_tasks != object.end()) {
            const nlohmann::json& specs = child_tasks->second;
            if (!specs.is_array()) {
                return HandlerOutcome::failure(
                    fmt::format("childTasks must be an array of task specs, got {}", specs.type_name()));
            }
            const std::size_t offset = children.size();
            for (std::size_t i = 0; i < specs.size(); ++i) {
                children.push_back(read_task(specs[i], Where{"childTasks", offset + i}, problems));
            }
            object.erase(child_tasks);  // a map's other iterators stay valid
        }
        if (trace != object.end()) {
            outcome.trace = std::move(trace->second);
            object.erase(trace);
        }
        if (output != object.end()) {
            outcome.output = std::move(output->second);
        } else {
            outcome.output = std::move(result);
        }
    } else {
        outcome.output = std::move(result);
    }
    if (children.empty() && problems.empty()) return outcome;

    outcome.batch.resize(children.size());
    outcome.handlers.resize(children.size(), nullptr);
    for (std::size_t i = 0; i < children.size(); ++i) {
        TaskSpec& child = children[i];
        if (child.input.is_null()) child.input = nlohmann::json::object();
        auto& task = outcome.batch[i];
        task.id = child_task_id(child, context.task_id, i);
        task.depends_on = child.depends_on;
        if (task.id.empty()) problems.push_back(fmt::format("childTasks[{}]: id must not be empty", i));
        if (child.timeout || child.retry) {
            check_task_policy(fmt::format("Child task {}", task.id), child.timeout, child.retry, problems);
        }
        if (child.service.empty() || child.command.empty()) {
            problems.push_back(fmt::format("Child task {}: service and command must be non-empty strings", task.id));
            continue;
        }
        const HandlerEntry* entry = context.registry.find(child.service, child.command);
        if (!entry) {
            problems.push_back(fmt::format("Invalid service/command combination: {}/{}", child.service, child.command));
            continue;
        }
        if (auto problem = check_input(*entry, child.input)) {
            problems.push_back(fmt::format("Invalid input for child task {} ({}/{}): {}", task.id, child.service,
                                           child.command, *problem));
        }
        outcome.handlers[i] = entry;
        task.planned = context.plan_mode && !entry->options.side_effect_free;
    }
    if (!problems.empty()) {
        return HandlerOutcome::failure(
            fmt::format("Child task validation failed for parent {}:\n{}", context.task_id, fmt::join(problems, "\n")));
    }

    outcome.children.reserve(children.size());
    outcome.child_ids.reserve(children.size());
    for (std::size_t i = 0; i < children.size(); ++i) {
        outcome.child_ids.push_back(outcome.batch[i].id);
        // Built with its fields at once: a default TaskRecord allocates an empty input object.
        // The id stays in the batch until the graph has claimed it (JobRun::add_children).
        TaskRecord& record = outcome.children.emplace_back(TaskRecord{.parent_id = std::string(context.task_id),
                                                                      .depth = context.depth + 1,
                                                                      .service = std::move(children[i].service),
                                                                      .command = std::move(children[i].command),
                                                                      .input = std::move(children[i].input),
                                                                      .depends_on = std::move(children[i].depends_on)});
        apply_task_policy(record, children[i], context.task_defaults);
        record.history.reserve(3);  // here, outside the job's lock; add_record then finds room
    }
    return outcome;
}

}  // namespace jobgraph::detail
