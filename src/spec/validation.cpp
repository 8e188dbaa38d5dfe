#include "jobgraph/validation.hpp"

#include "model/json_limits.hpp"
#include "spec/policy_checks.hpp"
#include "spec/prepared_job.hpp"

#include <fmt/compile.h>
#include <fmt/format.h>

namespace jobgraph {

std::string root_task_id(const TaskSpec& task, std::size_t position) {
    return task.id ? *task.id : std::to_string(position);
}

std::string child_task_id(const TaskSpec& child, std::string_view parent_id, std::size_t position) {
    // Compiled: one per spawned child, and a runtime format string is parsed on every call.
    return child.id ? *child.id : fmt::format(FMT_COMPILE("{}-{}"), parent_id, position);
}

std::vector<std::string> validate_job(const JobSpec& job, const HandlerRegistry& registry) {
    return detail::validation_problems(job, registry);
}

namespace detail {

std::optional<std::string> check_input(const HandlerEntry& entry, const nlohmann::json& input) {
    if (!input.is_object()) return fmt::format("input must be a JSON object, got {}", input.type_name());
    // An input built in C++ has met no parser's limit; the run would copy and write it out.
    if (depth_exceeds(input)) return fmt::format("input nests deeper than {} levels", max_json_depth);
    if (!entry.options.input_check) return std::nullopt;
    try {
        return entry.options.input_check(input);
    } catch (const std::exception& error) {
        return std::string(error.what());
    }
}

namespace {

// How many tasks ahead the dependency loop fetches (see check_job); 4 beat 8 and 16 on a
// 100,000-task DAG (tests/bench/README.md, "Tried and dropped").
constexpr std::size_t dependency_prefetch = 4;

// What validation works out on the way: the run needs it too.
struct CheckedJob {
    std::vector<std::string> problems;
    std::vector<std::string> ids;
    std::vector<const HandlerEntry*> handlers;
    TaskGraph graph;
};

// Reads the spec only, so that validating a job needs no copy of it.
CheckedJob check_job(const JobSpec& spec, const HandlerRegistry& registry, std::vector<std::string> problems) {
    const auto& limits = spec.limits;
    if (spec.name.empty()) problems.push_back("Job name must be a non-empty string");
    if (spec.tasks.empty()) problems.push_back("Job must have at least one task");
    if (limits.max_tasks < 1) problems.push_back(fmt::format("maxTasks must be at least 1, got {}", limits.max_tasks));
    if (limits.max_depth < 0) problems.push_back(fmt::format("maxDepth must be at least 0, got {}", limits.max_depth));
    if (limits.timeout.count() < 0) {
        problems.push_back(fmt::format("timeout must be at least 0, got {}", limits.timeout.count()));
    }
    check_task_policy("taskDefaults", spec.task_defaults.timeout, spec.task_defaults.retry, problems);
    check_concurrency(spec.concurrency, registry, problems);
    if (limits.max_tasks >= 1 && static_cast<std::int64_t>(spec.tasks.size()) > limits.max_tasks) {
        problems.push_back(
            fmt::format("Job has {} initial tasks, more than maxTasks ({})", spec.tasks.size(), limits.max_tasks));
    }

    // Ids: explicit or positional; any repeat is a problem, whichever way it arose. The graph's
    // own index finds repeats and dependencies (positional ids without hashing at all).
    const std::size_t count = spec.tasks.size();
    std::vector<std::string> ids(count);
    for (std::size_t i = 0; i < count; ++i) {
        ids[i] = root_task_id(spec.tasks[i], i);
        if (ids[i].empty()) problems.push_back(fmt::format("tasks[{}]: id must not be empty", i));
    }
    TaskGraph graph;
    std::size_t joins = 0;
    for (const TaskSpec& task : spec.tasks) joins += task.depends_on.size();
    graph.reserve(count, joins);
    std::vector<std::optional<TaskGraph::Index>> node(count);
    std::vector<std::size_t> position_of;  // graph index -> position in the spec
    position_of.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        node[i] = graph.add_root(ids[i]);
        if (node[i]) {
            position_of.push_back(i);
        } else {
            problems.push_back(fmt::format("Duplicate task id: {} (tasks[{}] and tasks[{}])", ids[i],
                                           position_of[*graph.find(ids[i])], i));
        }
    }

    // Unknown dependencies and repeated ids are left out of the graph, so cycles among the rest
    // still show.
    const bool sequential = spec.mode == Mode::sequential;
    std::optional<TaskGraph::Index> previous;
    bool only_earlier = true;  // every wait is on a task listed before its waiter: no cycle
    for (std::size_t i = 0; i < count; ++i) {
        // Each task's dependencies sit in a block of their own: ask for a later task's block
        // now, so that it has arrived by the time the loop gets there.
        if (i + dependency_prefetch < count) __builtin_prefetch(spec.tasks[i + dependency_prefetch].depends_on.data());
        for (const auto& dep : spec.tasks[i].depends_on) {
            const auto target = graph.find(dep);
            if (!target) {
                problems.push_back(fmt::format("Task {} depends on non-existent task {}", ids[i], dep));
            } else if (node[i]) {
                graph.add_dependency(*node[i], *target);
                only_earlier = only_earlier && *target < *node[i];
            }
        }
        if (!node[i]) continue;
        if (sequential && previous) graph.add_sequence(*node[i], *previous);
        previous = node[i];
    }

    for (std::size_t i = 0; i < count; ++i) {
        const TaskSpec& task = spec.tasks[i];
        if (task.timeout || task.retry) check_task_policy("Task " + ids[i], task.timeout, task.retry, problems);
    }

    std::vector<const HandlerEntry*> handlers(count, nullptr);
    const HandlerEntry* last_found = nullptr;                  // jobs mostly list runs of tasks for one handler
    const nlohmann::json no_input = nlohmann::json::object();  // `input = {}` in C++ is null: none given
    for (std::size_t i = 0; i < count; ++i) {
        const TaskSpec& task = spec.tasks[i];
        if (task.service.empty() || task.command.empty()) {
            problems.push_back(fmt::format("Task {}: service and command must be non-empty strings", ids[i]));
            continue;
        }
        const bool as_before = last_found && task.service == last_found->service && task.command == last_found->command;
        handlers[i] = as_before ? last_found : registry.find(task.service, task.command);
        if (handlers[i]) last_found = handlers[i];
        if (!handlers[i]) {
            problems.push_back(
                fmt::format("Task {}: {}", ids[i], registry.unknown_pair_message(task.service, task.command)));
        } else if (auto problem = check_input(*handlers[i], task.input.is_null() ? no_input : task.input)) {
            problems.push_back(
                fmt::format("Task {}: invalid input for {}/{}: {}", ids[i], task.service, task.command, *problem));
        }
    }

    // Jobs are usually listed in an order their waits respect; then the search has nothing to find.
    if (!only_earlier) {
        if (auto cycle = graph.find_any_cycle()) problems.push_back("Circular dependencies detected: " + *cycle);
    }

    return CheckedJob{std::move(problems), std::move(ids), std::move(handlers), std::move(graph)};
}

}  // namespace

Preparation prepare_job(JobSpec spec, const HandlerRegistry& registry, std::vector<std::string> problems) {
    CheckedJob checked = check_job(spec, registry, std::move(problems));
    if (!checked.problems.empty()) return Preparation{std::move(checked.problems), std::nullopt};
    return Preparation{
        {},
        PreparedJob{std::move(spec), std::move(checked.ids), std::move(checked.handlers), std::move(checked.graph)}};
}

std::vector<std::string> validation_problems(const JobSpec& spec, const HandlerRegistry& registry) {
    return check_job(spec, registry, {}).problems;
}

}  // namespace detail
}  // namespace jobgraph
