// jobgraph: the graph becomes a JobSpec (positional ids, dependencies by id), the Orchestrator
// validates and runs it, and the outputs are read back from the JobResult.

#include "jobgraph_workloads.hpp"
#include "systems/system.hpp"
#include "timing.hpp"

#include <jobgraph/jobgraph.hpp>

#include <fmt/format.h>

#include <chrono>
#include <string>
#include <utility>

namespace bench {
namespace {

constexpr const char* service = "bench";

jobgraph::TaskSpec make_task(const char* command, nlohmann::json input) {
    jobgraph::TaskSpec task;
    task.service = service;
    task.command = command;
    task.input = std::move(input);
    return task;
}

// How a task's dependency list is filled: reserved first, which leaves the lists in one run of
// memory, or appended to one by one, as the JSON reader and most callers fill them.
enum class DependencyLists { reserved, appended };

// The graph as a job: positional ids, dependencies by id, each task's input from input_of(i).
template <typename InputOf>
jobgraph::JobSpec job_of(const StaticGraph& graph, const char* command, InputOf input_of,
                         DependencyLists lists = DependencyLists::reserved) {
    jobgraph::JobSpec job;
    job.name = graph.shape;
    job.limits.max_tasks = graph.size;
    job.tasks.reserve(graph.size);
    for (std::uint32_t i = 0; i < graph.size; ++i) {
        auto& task = job.tasks.emplace_back(make_task(command, input_of(i)));
        if (lists == DependencyLists::reserved) task.depends_on.reserve(graph.dep_count(i));
        for (auto d = graph.deps_begin(i); d != graph.deps_end(i); ++d) task.depends_on.push_back(std::to_string(*d));
    }
    return job;
}

// A job that did not succeed with every task is the run's problem.
RunResult checked(const jobgraph::JobResult& result, std::size_t expected_tasks) {
    RunResult run;
    run.own_run_ms = result.stats.wall_ms;
    // Tasks are listed by start: the first one listed started first.
    if (!result.tasks.empty() && result.tasks.front().started_at) {
        run.first_start_ms =
            std::chrono::duration<double, std::milli>(*result.tasks.front().started_at - result.started_at).count();
    }
    if (result.status != jobgraph::JobStatus::succeeded || result.tasks.size() != expected_tasks) {
        run.ok = false;
        run.problem =
            fmt::format("job {}: status {}, {} of {} tasks; {}", result.name, jobgraph::to_string(result.status),
                        result.tasks.size(), expected_tasks, result.error_message.value_or("no job error"));
    }
    return run;
}

RunResult collect(const jobgraph::JobResult& result, std::size_t expected_tasks) {
    RunResult run = checked(result, expected_tasks);
    if (run.ok) {
        for (const auto& task : result.tasks) run.checksum.add(task.output);
    }
    return run;
}

class JobgraphSystem final : public System {
public:
    explicit JobgraphSystem(std::size_t workers) : orchestrator_(register_handlers(), {.workers = workers}) {}

    std::string_view name() const override { return "jobgraph"; }

    RunResult run_graph(const StaticGraph& graph) override {
        // Moved in, as a user would: the spec is not needed again.
        const jobgraph::JobResult result = orchestrator_.run(job_of(graph, "work", task_input));
        return collect(result, graph.size);
    }

    RunResult run_empty_graph(const StaticGraph& graph) override {
        const auto no_input = [](std::uint32_t) { return nlohmann::json(); };  // null: the record's input is {}
        const jobgraph::JobResult result = orchestrator_.run(job_of(graph, "noop", no_input));
        RunResult run = checked(result, graph.size);
        run.checksum.count = result.stats.succeeded;
        return run;
    }

    RunResult run_recursion(int depth) override {
        jobgraph::JobSpec job;
        job.name = "recursion";
        job.limits.max_tasks = static_cast<std::int64_t>(recursion_size(depth));
        job.limits.max_depth = depth;
        job.tasks.push_back(make_task("split", task_input(0)));
        const jobgraph::JobResult result = orchestrator_.run(std::move(job));
        return collect(result, recursion_size(depth));
    }

private:
    // The handlers: "work" does the task body; "split" does it too and, above the job's
    // maximum depth, spawns its two children through the context; "noop" does nothing.
    jobgraph::HandlerRegistry& register_handlers() {
        registry_.add(service, "work", [](jobgraph::TaskContext& ctx) { return task_output(ctx.input()); });
        registry_.add(service, "noop", [](jobgraph::TaskContext&) { return nlohmann::json(); });
        registry_.add(service, "split", [](jobgraph::TaskContext& ctx) {
            if (ctx.depth() < ctx.limits().max_depth) {
                const auto k = ctx.input()["i"].get<std::uint64_t>();
                ctx.spawn(make_task("split", task_input(2 * k + 1)));
                ctx.spawn(make_task("split", task_input(2 * k + 2)));
            }
            return task_output(ctx.input());
        });
        return registry_;
    }

    jobgraph::HandlerRegistry registry_;
    jobgraph::Orchestrator orchestrator_;
};

}  // namespace

std::unique_ptr<System> make_jobgraph_system(std::size_t workers) {
    return std::make_unique<JobgraphSystem>(workers);
}

std::vector<double> time_validation(const StaticGraph& graph, int repeat) {
    jobgraph::HandlerRegistry registry;  // validation looks the pair up; it never calls it
    registry.add(service, "work", [](jobgraph::TaskContext&) { return nlohmann::json(); });
    const jobgraph::JobSpec job = job_of(graph, "work", task_input, DependencyLists::appended);
    std::vector<double> times;
    for (int rep = 0; rep < repeat; ++rep) {
        const Stopwatch watch;
        const bool valid = jobgraph::validate_job(job, registry).empty();
        times.push_back(watch.elapsed_ms());
        if (!valid) return {};
    }
    return times;
}

}  // namespace bench
