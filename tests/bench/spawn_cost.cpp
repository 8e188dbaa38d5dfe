// The cost of one spawned batch as the job grows. A driver task spawns a chain of batches
// (each batch: the next spawner and a leaf); every other task of the job waits for the
// driver, so the graph is large and unsettled while the batches are added. Each spawner
// notes when it returns and its successor when it starts: that gap is the batch's cost
// (checking and adding the batch, settling, handing the successor to a worker).

#include "jobgraph_workloads.hpp"
#include "timing.hpp"

#include <jobgraph/jobgraph.hpp>

#include <fmt/format.h>

#include <chrono>
#include <vector>

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

jobgraph::TaskSpec task(const char* command, std::uint64_t index) {
    jobgraph::TaskSpec spec;
    spec.service = "bench";
    spec.command = command;
    spec.input = task_input(index);
    return spec;
}

}  // namespace

SpawnCostRun run_spawn_cost(std::uint32_t job_size, std::uint32_t batches, std::size_t workers) {
    // Written by one task and read by its successor: the orchestrator orders them.
    std::vector<Clock::time_point> returned(batches + 1);
    std::vector<Clock::time_point> started(batches + 1);

    jobgraph::HandlerRegistry registry;
    registry.add("bench", "work", [](jobgraph::TaskContext& ctx) { return task_output(ctx.input()); });
    registry.add("bench", "spawn", [&, batches](jobgraph::TaskContext& ctx) {
        const auto step = static_cast<std::size_t>(ctx.depth());
        started[step] = Clock::now();
        if (step < batches) {
            const auto k = ctx.input()["i"].get<std::uint64_t>();
            // Short explicit ids: generated ones would grow with the depth of the chain.
            auto next = task("spawn", k + 1);
            next.id = fmt::format("s{}", step + 1);
            auto leaf = task("work", k + 2);
            leaf.id = fmt::format("l{}", step + 1);
            ctx.spawn(std::move(next));
            ctx.spawn(std::move(leaf));
        }
        nlohmann::json output = task_output(ctx.input());
        returned[step] = Clock::now();
        return output;
    });
    const jobgraph::Orchestrator orchestrator(registry, {.workers = workers});

    const std::uint32_t fillers = job_size - 1 - 2 * batches;
    jobgraph::JobSpec job;
    job.name = fmt::format("spawn-cost-{}", job_size);
    job.limits.max_tasks = job_size;
    job.limits.max_depth = batches;
    job.tasks.reserve(fillers + 1);
    auto& driver = job.tasks.emplace_back(task("spawn", 1'000'000'000));
    driver.id = "driver";
    for (std::uint32_t i = 0; i < fillers; ++i) {
        job.tasks.push_back(task("work", i));
        job.tasks.back().depends_on.emplace_back("driver");
    }

    // First an untimed job of one task. Its workers merge the small blocks that earlier jobs'
    // results left in their arenas (tidy_thread_heap), which after a large job takes up to
    // hundreds of milliseconds. Otherwise the other workers would still be merging, across the
    // caches they share, while the first to start spawned the timed batches. This relies on
    // glibc giving the timed job's threads the arenas the settle job's threads just left, as it
    // does with free arenas. The job's total time no longer includes that merging either.
    jobgraph::JobSpec settle;
    settle.name = "settle";
    settle.tasks.push_back(task("work", 0));
    (void)orchestrator.run(std::move(settle));

    SpawnCostRun run;
    const Stopwatch watch;
    const jobgraph::JobResult result = orchestrator.run(job);
    run.total_ms = watch.elapsed_ms();
    if (result.status != jobgraph::JobStatus::succeeded || result.tasks.size() != job_size) {
        run.ok = false;
        run.problem = fmt::format("status {}, {} tasks: {}", jobgraph::to_string(result.status), result.tasks.size(),
                                  result.error_message.value_or("no job error"));
        return run;
    }
    std::vector<double> gaps;
    gaps.reserve(batches);
    for (std::uint32_t step = 0; step < batches; ++step) {
        gaps.push_back(std::chrono::duration<double, std::micro>(started[step + 1] - returned[step]).count());
    }
    run.median_batch_us = summarize(std::move(gaps)).median;
    return run;
}

}  // namespace bench
