// Concurrency limits and priorities: what they cost on a large graph of trivial tasks, and
// whether a limit keeps asynchronous calls in bounds while keeping the slots busy.

#include "jobgraph_workloads.hpp"
#include "timer.hpp"
#include "timing.hpp"

#include <jobgraph/jobgraph.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <random>

namespace bench {
namespace {

constexpr const char* service = "bench";

// The graph as a job; odd tasks run the "half" command (the same body), so a limit on that
// pair covers half the tasks.
jobgraph::JobSpec limits_job(const StaticGraph& graph, LimitsVariant variant, std::int64_t limit, std::uint64_t seed) {
    jobgraph::JobSpec job;
    job.name = fmt::format("limits-{}", to_string(variant));
    job.limits.max_tasks = graph.size;
    if (variant == LimitsVariant::limits || variant == LimitsVariant::both) {
        job.concurrency = {{service, limit}, {fmt::format("{}/half", service), limit}};
    }
    const bool prioritised = variant == LimitsVariant::priorities || variant == LimitsVariant::both;
    std::mt19937_64 rng(seed);
    job.tasks.reserve(graph.size);
    for (std::uint32_t i = 0; i < graph.size; ++i) {
        jobgraph::TaskSpec& task = job.tasks.emplace_back();
        task.service = service;
        task.command = i % 2 == 0 ? "work" : "half";
        task.input = task_input(i);
        if (prioritised) task.priority = static_cast<int>(rng() % 10);
        if (variant == LimitsVariant::ordered_priorities) {
            task.priority = 9 - static_cast<int>(std::uint64_t{i} * 10 / graph.size);
        }
        task.depends_on.reserve(graph.dep_count(i));
        for (auto d = graph.deps_begin(i); d != graph.deps_end(i); ++d) task.depends_on.push_back(std::to_string(*d));
    }
    return job;
}

}  // namespace

const char* to_string(LimitsVariant variant) {
    switch (variant) {
        case LimitsVariant::plain: return "plain";
        case LimitsVariant::priorities: return "priorities";
        case LimitsVariant::limits: return "limits";
        case LimitsVariant::both: return "both";
        case LimitsVariant::ordered_priorities: return "ordered-priorities";
    }
    return "?";
}

struct LimitsBench::State {
    jobgraph::HandlerRegistry registry;
    std::unique_ptr<jobgraph::Orchestrator> orchestrator;
    std::vector<jobgraph::JobSpec> jobs;  // by LimitsVariant
    std::size_t size = 0;
};

LimitsBench::LimitsBench(const StaticGraph& graph, std::size_t workers, std::int64_t limit, std::uint64_t seed)
    : state_(std::make_unique<State>()) {
    const auto work = [](jobgraph::TaskContext& ctx) { return task_output(ctx.input()); };
    state_->registry.add(service, "work", work).add(service, "half", work);
    state_->orchestrator = std::make_unique<jobgraph::Orchestrator>(state_->registry,
                                                                    jobgraph::OrchestratorOptions{.workers = workers});
    for (const auto variant : {LimitsVariant::plain, LimitsVariant::priorities, LimitsVariant::limits,
                               LimitsVariant::both, LimitsVariant::ordered_priorities}) {
        state_->jobs.push_back(limits_job(graph, variant, limit, seed));
    }
    state_->size = graph.size;
}

LimitsBench::~LimitsBench() = default;

LimitsRun LimitsBench::run(LimitsVariant variant) const {
    LimitsRun run;
    const Stopwatch watch;
    {
        const jobgraph::JobResult result = state_->orchestrator->run(state_->jobs[static_cast<std::size_t>(variant)]);
        run.own_run_ms = result.stats.wall_ms;
        if (result.status != jobgraph::JobStatus::succeeded || result.tasks.size() != state_->size) {
            run.ok = false;
            run.problem = fmt::format("{}: status {}, {} tasks; {}", to_string(variant),
                                      jobgraph::to_string(result.status), result.tasks.size(),
                                      result.error_message.value_or("no job error"));
        } else {
            for (const auto& task : result.tasks) run.checksum.add(task.output);
        }
    }  // the result is freed inside the timing, as in the graph workloads
    run.ms = watch.elapsed_ms();
    return run;
}

AsyncLimitRun run_async_limit(const StaticGraph& graph, std::int64_t limit, std::size_t workers) {
    std::atomic<std::int64_t> running{0};
    std::atomic<std::int64_t> most{0};
    TimerThread timer;
    jobgraph::HandlerRegistry registry;
    registry.add_async(service, "sleep", [&](jobgraph::TaskContext& ctx, jobgraph::Completion done) {
        const std::int64_t now_running = running.fetch_add(1) + 1;
        std::int64_t seen = most.load();
        while (now_running > seen && !most.compare_exchange_weak(seen, now_running)) {
        }
        const auto due = TimerThread::Clock::now() + std::chrono::milliseconds(ctx.input()["ms"].get<int>());
        timer.at(due, [&running, done, output = task_output(ctx.input())]() mutable {
            running.fetch_sub(1);  // before the slot comes free, so a new call never counts this one
            done.succeed(std::move(output));
        });
    });
    const jobgraph::Orchestrator orchestrator(registry, {.workers = workers});

    jobgraph::JobSpec job;
    job.name = "async-limit";
    job.limits.max_tasks = graph.size;
    job.concurrency = {{service, limit}};
    for (std::uint32_t i = 0; i < graph.size; ++i) {
        jobgraph::TaskSpec& task = job.tasks.emplace_back();
        task.service = service;
        task.command = "sleep";
        task.input = task_input(i);
        task.input["ms"] = graph.sleep_ms[i];
    }

    AsyncLimitRun run;
    const Stopwatch watch;
    const jobgraph::JobResult result = orchestrator.run(job);
    run.makespan_ms = watch.elapsed_ms();
    run.most_running = most.load();
    const auto succeeded = std::count_if(result.tasks.begin(), result.tasks.end(), [](const jobgraph::TaskRecord& t) {
        return t.status == jobgraph::TaskStatus::succeeded && t.attempts == 1;
    });
    if (result.status != jobgraph::JobStatus::succeeded || static_cast<std::size_t>(succeeded) != graph.size) {
        run.ok = false;
        run.problem = fmt::format("status {}, {} of {} tasks succeeded at the first attempt; {}",
                                  jobgraph::to_string(result.status), succeeded, graph.size,
                                  result.error_message.value_or("no job error"));
    } else if (run.most_running > limit) {
        run.ok = false;
        run.problem = fmt::format("{} calls in flight at once under a limit of {}", run.most_running, limit);
    }
    for (const auto& task : result.tasks) run.checksum.add(task.output);
    return run;
}

}  // namespace bench
