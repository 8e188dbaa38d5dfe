// Asynchronous completion: each handler hands its Completion to a timer thread and returns at
// once; the timer fulfils it when the task's sleep is over. Workers are free meanwhile.

#include "jobgraph_workloads.hpp"
#include "timer.hpp"
#include "timing.hpp"

#include <jobgraph/jobgraph.hpp>

#include <fmt/format.h>

namespace bench {

AsyncRun run_async_graph(const StaticGraph& graph, std::size_t workers) {
    TimerThread timer;
    jobgraph::HandlerRegistry registry;
    registry.add_async("bench", "sleep", [&timer](jobgraph::TaskContext& ctx, jobgraph::Completion done) {
        const auto due = TimerThread::Clock::now() + std::chrono::milliseconds(ctx.input()["ms"].get<int>());
        timer.at(due, [done, output = task_output(ctx.input())]() mutable { done.succeed(std::move(output)); });
    });
    const jobgraph::Orchestrator orchestrator(registry, {.workers = workers});

    jobgraph::JobSpec job;
    job.name = fmt::format("async-{}", graph.shape);
    job.limits.max_tasks = graph.size;
    for (std::uint32_t i = 0; i < graph.size; ++i) {
        jobgraph::TaskSpec task;
        task.service = "bench";
        task.command = "sleep";
        task.input = task_input(i);
        task.input["ms"] = graph.sleep_ms[i];
        for (auto d = graph.deps_begin(i); d != graph.deps_end(i); ++d) task.depends_on.push_back(std::to_string(*d));
        job.tasks.push_back(std::move(task));
    }

    AsyncRun run;
    const Stopwatch watch;
    const jobgraph::JobResult result = orchestrator.run(job);
    run.makespan_ms = watch.elapsed_ms();
    if (result.status != jobgraph::JobStatus::succeeded || result.tasks.size() != graph.size) {
        run.ok = false;
        run.problem = fmt::format("status {}: {}", jobgraph::to_string(result.status),
                                  result.error_message.value_or("no job error"));
        return run;
    }
    for (const auto& task : result.tasks) run.checksum.add(task.output);
    return run;
}

}  // namespace bench
