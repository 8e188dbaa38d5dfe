// jobgraph_bench: the same workloads on jobgraph, oneTBB and a plain loop, timed end to end
// over interleaved repetitions. See README.md for the workloads and the latest figures.

#include "durable.hpp"
#include "jobgraph_workloads.hpp"
#include "report.hpp"
#include "systems/system.hpp"
#include "timing.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace bench {
namespace {

const std::vector<std::string> all_workloads{"dag",        "chain",      "fanout",     "validate",
                                             "spawn",      "spawn-cost", "async-dag",  "async-wait",
                                             "small-jobs", "memory",     "memory-json", "durable",
                                             "limits",     "async-limit"};

/// Sizes of every workload at one scale.
struct Sizes {
    std::uint32_t graph_tasks = 100'000;  // dag, chain, fan-out width
    std::uint32_t dag_window = 1'000;     // dag: dependencies among the previous this-many tasks
    int recursion_depth = 17;
    std::uint32_t spawn_cost_small = 10'000;
    std::uint32_t spawn_cost_large = 1'000'000;
    std::uint32_t spawn_cost_batches = 1'000;
    std::uint32_t async_dag_tasks = 2'000;
    std::uint32_t async_dag_window = 200;
    std::uint32_t async_min_ms = 1;
    std::uint32_t async_max_ms = 20;
    std::uint32_t async_wait_tasks = 10'000;
    std::uint32_t async_wait_ms = 100;
    std::uint32_t small_jobs = 2'000;
    std::uint32_t small_job_tasks = 10;
    std::uint32_t memory_tasks = 1'000'000;
    std::uint32_t durable_tasks = 20'000;
    std::uint32_t async_limit_tasks = 10'000;
    std::uint32_t async_limit_min_ms = 10;
    std::uint32_t async_limit_max_ms = 50;
    std::int64_t async_limit = 100;  // the job's concurrency limit on the tasks' service
};

Sizes small_sizes() {
    Sizes s;
    s.graph_tasks = 2'000;
    s.dag_window = 100;
    s.recursion_depth = 10;
    s.spawn_cost_small = 2'000;
    s.spawn_cost_large = 20'000;
    s.spawn_cost_batches = 200;
    s.async_dag_tasks = 200;
    s.async_dag_window = 20;
    s.async_max_ms = 5;
    s.async_wait_tasks = 500;
    s.async_wait_ms = 20;
    s.small_jobs = 100;
    s.memory_tasks = 20'000;
    s.durable_tasks = 1'000;
    s.async_limit_tasks = 500;
    return s;
}

/// The checksum of the task body over inputs first .. first+count-1: what every system must match.
Checksum expected_checksum(std::uint64_t count) {
    Checksum sum;
    for (std::uint64_t i = 0; i < count; ++i) sum.add(task_output(task_input(i)));
    return sum;
}

class Bench {
public:
    Bench(Sizes sizes, std::vector<std::string> systems, int repeat, std::size_t workers, std::string self)
        : sizes_(sizes), system_names_(std::move(systems)), repeat_(repeat), workers_(workers), self_(std::move(self)) {}

    void run(const std::string& workload) {
        fmt::print(stderr, "running {} ...\n", workload);
        if (workload == "dag") {
            graph_workload("dag", random_dag(sizes_.graph_tasks, 4, sizes_.dag_window, 42),
                           fmt::format("random DAG, up to 4 deps among the previous {}", sizes_.dag_window));
        } else if (workload == "chain") {
            graph_workload("chain", chain(sizes_.graph_tasks), "chain");
        } else if (workload == "fanout") {
            graph_workload("fanout", fan_out(sizes_.graph_tasks), "1 -> n -> 1");
        } else if (workload == "validate") {
            validate_workload();
        } else if (workload == "spawn") {
            recursion_workload();
        } else if (workload == "spawn-cost") {
            spawn_cost_workload();
        } else if (workload == "async-dag") {
            async_dag_workload();
        } else if (workload == "async-wait") {
            async_wait_workload();
        } else if (workload == "small-jobs") {
            small_jobs_workload();
        } else if (workload == "memory") {
            memory_workload("memory", MemoryPayload::empty);
        } else if (workload == "memory-json") {
            memory_workload("memory-json", MemoryPayload::json);
        } else if (workload == "durable") {
            durable_workload();
        } else if (workload == "limits") {
            limits_workload();
        } else if (workload == "async-limit") {
            async_limit_workload();
        }
    }

    const std::vector<Row>& rows() const { return rows_; }
    bool all_results_ok() const {
        return std::all_of(rows_.begin(), rows_.end(), [](const Row& row) { return row.result_ok; });
    }

private:
    bool wants(const std::string& system) const {
        return std::find(system_names_.begin(), system_names_.end(), system) != system_names_.end();
    }

    std::vector<std::unique_ptr<System>> make_systems() const {
        std::vector<std::unique_ptr<System>> systems;
        for (const auto& name : system_names_) {
            if (name == "jobgraph") systems.push_back(make_jobgraph_system(workers_));
            if (name == "tbb") systems.push_back(make_tbb_system(static_cast<int>(workers_)));
            if (name == "loop") systems.push_back(make_loop_system());
        }
        return systems;
    }

    // Times `run(system)` for every system, repeat_ times, the order rotating each repetition
    // so drift on a shared machine spreads over all systems alike.
    template <typename Run>
    void interleaved(const std::string& workload, std::uint64_t tasks, const Checksum& expected, Run run,
                     const std::string& shape) {
        auto systems = make_systems();
        std::vector<std::vector<double>> samples(systems.size());
        std::vector<std::vector<double>> own_run_samples(systems.size());
        std::vector<std::vector<double>> rest_samples(systems.size());  // per repetition: end to end minus own run
        std::vector<std::vector<double>> first_start_samples(systems.size());
        std::vector<bool> correct(systems.size(), true);
        if (repeat_ > 1) {
            for (auto& system : systems) (void)run(*system);  // warm-up: allocator, thread pools, caches
        }
        for (int rep = 0; rep < repeat_; ++rep) {
            for (std::size_t k = 0; k < systems.size(); ++k) {
                const std::size_t s = (k + static_cast<std::size_t>(rep)) % systems.size();
                const Stopwatch watch;
                const RunResult result = run(*systems[s]);
                samples[s].push_back(watch.elapsed_ms());
                if (result.own_run_ms) {
                    own_run_samples[s].push_back(*result.own_run_ms);
                    rest_samples[s].push_back(samples[s].back() - *result.own_run_ms);
                }
                if (result.first_start_ms) first_start_samples[s].push_back(*result.first_start_ms);
                if (!result.ok || !(result.checksum == expected)) {
                    correct[s] = false;
                    fmt::print(stderr, "{} on {}: wrong result (sum {} count {}, expected sum {} count {}) {}\n",
                               workload, systems[s]->name(), result.checksum.sum, result.checksum.count, expected.sum,
                               expected.count, result.problem);
                }
            }
        }
        std::map<std::string, double, std::less<>> medians;
        const std::size_t first_row = rows_.size();
        for (std::size_t s = 0; s < systems.size(); ++s) {
            Row row;
            row.workload = workload;
            row.system = std::string(systems[s]->name());
            row.tasks = tasks;
            row.ms = summarize(samples[s]);
            row.ns_per_task = row.ms.median * 1e6 / static_cast<double>(tasks);
            row.result_ok = correct[s];
            row.detail = row.system == "jobgraph" ? shape : "";
            if (!own_run_samples[s].empty()) {
                // Where the time goes: the run itself, and around it (spec, validation, records,
                // checksum, freeing); each a median over the repetitions.
                const double own = summarize(own_run_samples[s]).median;
                const double rest = summarize(rest_samples[s]).median;
                row.detail += fmt::format("{}the run itself (stats.wall_ms) {:.1f} ms, the rest {:.1f} ms",
                                          row.detail.empty() ? "" : "; ", own, rest);
                row.extra["own_run_ms"] = own;
                row.extra["rest_ms"] = rest;
            }
            if (!first_start_samples[s].empty()) {
                const double first_start = summarize(first_start_samples[s]).median;
                row.detail += fmt::format("; the first task started {:.1f} ms after the job's startedAt", first_start);
                row.extra["first_start_ms"] = first_start;
            }
            medians[row.system] = row.ms.median;
            rows_.push_back(std::move(row));
        }
        for (std::size_t r = first_row; r < rows_.size(); ++r) {
            Row& row = rows_[r];
            if (medians.contains("tbb") && row.system != "tbb") row.vs_tbb = row.ms.median / medians["tbb"];
            if (medians.contains("loop") && row.system != "loop") row.vs_loop = row.ms.median / medians["loop"];
        }
    }

    Row* jobgraph_row(const std::string& workload) {
        for (Row& row : rows_) {
            if (row.workload == workload && row.system == "jobgraph") return &row;
        }
        return nullptr;
    }

    void graph_workload(const std::string& workload, const StaticGraph& graph, const std::string& shape) {
        interleaved(workload, graph.size, expected_checksum(graph.size),
                    [&](System& system) { return system.run_graph(graph); },
                    fmt::format("{}, {} edges", shape, graph.deps.size()));
        if (Row* row = jobgraph_row(workload)) {
            row->target = "<= 1.0x tbb, <= 2.0x loop";
            if (row->vs_tbb && row->vs_loop) row->target_met = *row->vs_tbb <= 1.0 && *row->vs_loop <= 2.0;
        }
    }

    void recursion_workload() {
        const int depth = sizes_.recursion_depth;
        interleaved("spawn", recursion_size(depth), expected_checksum(recursion_size(depth)),
                    [&](System& system) { return system.run_recursion(depth); },
                    fmt::format("binary recursion to depth {}, children spawned at run time", depth));
        if (Row* row = jobgraph_row("spawn")) {
            row->target = "<= 1500 ns/task";
            row->target_met = row->ns_per_task <= 1500.0;
        }
    }

    // Validation alone, on the specs of the three graph workloads: the part of a static job's
    // set-up that is the library's own work on the caller's thread. No target in the issue.
    void validate_workload() {
        if (!wants("jobgraph")) return;
        const std::vector<std::pair<std::string, StaticGraph>> graphs{
            {"dag", random_dag(sizes_.graph_tasks, 4, sizes_.dag_window, 42)},
            {"chain", chain(sizes_.graph_tasks)},
            {"fanout", fan_out(sizes_.graph_tasks)}};
        std::vector<std::string> parts;
        Row row;
        row.workload = "validate";
        row.system = "jobgraph";
        for (const auto& [shape, graph] : graphs) {
            std::vector<double> times = time_validation(graph, repeat_ + 1);
            if (times.empty()) {
                row.result_ok = false;
                fmt::print(stderr, "validate: the {} spec was found invalid\n", shape);
                continue;
            }
            times.erase(times.begin());  // the first warms the allocator
            const Summary summary = summarize(times);
            parts.push_back(fmt::format("{} {:.1f} ms", shape, summary.median));
            row.extra[shape + "_ms"] = summary.median;
            if (shape == "dag") {
                row.tasks = graph.size;
                row.ms = summary;
                row.ns_per_task = summary.median * 1e6 / static_cast<double>(graph.size);
            }
        }
        row.detail =
            fmt::format("validate_job on the specs of the graph workloads (medians): {}", fmt::join(parts, ", "));
        rows_.push_back(std::move(row));
    }

    void spawn_cost_workload() {
        if (!wants("jobgraph")) return;
        const std::uint32_t batches = sizes_.spawn_cost_batches;
        std::vector<double> small_us, large_us, small_ms, large_ms;
        bool ok = true;
        for (int rep = 0; rep < repeat_; ++rep) {
            for (const bool large : {rep % 2 == 1, rep % 2 == 0}) {
                const SpawnCostRun run =
                    run_spawn_cost(large ? sizes_.spawn_cost_large : sizes_.spawn_cost_small, batches, workers_);
                if (!run.ok) {
                    ok = false;
                    fmt::print(stderr, "spawn-cost: {}\n", run.problem);
                }
                (large ? large_us : small_us).push_back(run.median_batch_us);
                (large ? large_ms : small_ms).push_back(run.total_ms);
            }
        }
        const Summary small = summarize(small_us);
        const Summary large = summarize(large_us);
        const double ratio = large.median / small.median;
        Row row;
        row.workload = "spawn-cost";
        row.system = "jobgraph";
        row.tasks = sizes_.spawn_cost_large;
        row.ms = summarize(large_ms);
        row.ns_per_task = row.ms.median * 1e6 / static_cast<double>(row.tasks);
        row.result_ok = ok;
        row.target = "batch cost ratio <= 1.3";
        row.target_met = ratio <= 1.3;
        row.detail = fmt::format(
            "one spawned batch (2 tasks) costs {:.2f} us (min {:.2f}) in a job of {} tasks vs {:.2f} us (min {:.2f}) in "
            "one of {}: ratio {:.2f}; medians over {} chained batches per run; whole {}-task job {:.0f} ms vs {:.0f} ms",
            large.median, large.min, sizes_.spawn_cost_large, small.median, small.min, sizes_.spawn_cost_small, ratio,
            batches, sizes_.spawn_cost_small, summarize(small_ms).median, summarize(large_ms).median);
        row.extra = {{"batch_us_large", large.median}, {"batch_us_small", small.median}, {"batch_cost_ratio", ratio}};
        rows_.push_back(std::move(row));
    }

    // Runs an asynchronous workload on jobgraph repeat_ times: the makespans and whether every
    // run computed the expected outputs.
    Row measure_async(const char* workload, const StaticGraph& graph) {
        const Checksum expected = expected_checksum(graph.size);
        std::vector<double> makespans;
        bool ok = true;
        for (int rep = 0; rep < repeat_; ++rep) {
            const AsyncRun run = run_async_graph(graph, workers_);
            ok = ok && run.ok && run.checksum == expected;
            if (!run.ok) fmt::print(stderr, "{}: {}\n", workload, run.problem);
            makespans.push_back(run.makespan_ms);
        }
        Row row;
        row.workload = workload;
        row.system = "jobgraph";
        row.tasks = graph.size;
        row.ms = summarize(makespans);
        row.ns_per_task = row.ms.median * 1e6 / static_cast<double>(row.tasks);
        row.result_ok = ok;
        return row;
    }

    void async_dag_workload() {
        if (!wants("jobgraph")) return;
        StaticGraph graph = random_dag(sizes_.async_dag_tasks, 4, sizes_.async_dag_window, 7);
        add_sleeps(graph, sizes_.async_min_ms, sizes_.async_max_ms, 11);
        const double critical = critical_path_ms(graph);
        const double waves = wave_makespan_ms(graph);
        Row row = measure_async("async-dag", graph);
        const double limit = 1.05 * critical + 2.0;
        row.target = fmt::format("makespan <= {:.1f} ms", limit);
        row.target_met = row.ms.median <= limit;
        row.detail = fmt::format(
            "{} tasks sleeping {}-{} ms (async completion, timer thread), up to 4 deps among the previous {}: makespan "
            "{:.1f} ms = {:.3f}x the critical path {:.1f} ms; a wave-by-wave schedule would need {:.1f} ms",
            graph.size, sizes_.async_min_ms, sizes_.async_max_ms, sizes_.async_dag_window, row.ms.median,
            row.ms.median / critical, critical, waves);
        row.extra = {{"critical_path_ms", critical}, {"wave_makespan_ms", waves}};
        rows_.push_back(std::move(row));
    }

    void async_wait_workload() {
        if (!wants("jobgraph")) return;
        StaticGraph graph = chain(1);  // reshaped below: independent tasks
        graph.shape = "independent";
        graph.size = sizes_.async_wait_tasks;
        graph.offsets.assign(graph.size + 1, 0);
        graph.sleep_ms.assign(graph.size, sizes_.async_wait_ms);
        Row row = measure_async("async-wait", graph);
        const double limit = 3.0 * sizes_.async_wait_ms;
        row.target = fmt::format("all done <= {:.0f} ms", limit);
        row.target_met = row.ms.max <= limit;
        row.detail = fmt::format("{} independent tasks each completing asynchronously after {} ms, {} workers",
                                 graph.size, sizes_.async_wait_ms, workers_);
        rows_.push_back(std::move(row));
    }

    // Many small jobs one after another, as a service running a job per request would: what a
    // run costs beyond its tasks (threads, validation, the result). No target in the issue.
    void small_jobs_workload() {
        const StaticGraph graph = random_dag(sizes_.small_job_tasks, 2, sizes_.small_job_tasks, 7);
        const std::uint32_t jobs = sizes_.small_jobs;
        const Checksum per_job = expected_checksum(graph.size);
        const Checksum expected{per_job.sum * jobs, per_job.count * jobs};
        const std::size_t first_row = rows_.size();
        const auto run_all = [&](System& system) {
            RunResult all;
            for (std::uint32_t job = 0; job < jobs && all.ok; ++job) {
                const RunResult one = system.run_graph(graph);
                all.checksum.sum += one.checksum.sum;
                all.checksum.count += one.checksum.count;
                all.ok = one.ok;
                all.problem = one.problem;
            }
            return all;
        };
        interleaved("small-jobs", std::uint64_t{jobs} * graph.size, expected, run_all, "");
        for (std::size_t r = first_row; r < rows_.size(); ++r) {
            Row& row = rows_[r];
            const double us_per_job = row.ms.median * 1000.0 / jobs;
            row.detail = fmt::format("{} jobs one after another, each a random DAG of {} tasks and {} edges: "
                                     "{:.1f} us per job",
                                     jobs, graph.size, graph.deps.size(), us_per_job);
            row.extra = {{"us_per_job", us_per_job}};
        }
    }

    // The same DAG in memory and kept in the SQLite store; the store's own floor in the same run.
    void durable_workload() {
        if (!wants("jobgraph")) return;
        const StaticGraph graph = random_dag(sizes_.durable_tasks, 4, 50, 11);
        const DurableFigures figures = run_durable(graph, workers_, std::max(repeat_, 1));
        const double per_second = graph.size / (figures.durable_ms / 1000.0);
        const double ratio = figures.durable_ms / figures.memory_ms;
        Row row;
        row.workload = "durable";
        row.system = "jobgraph";
        row.tasks = graph.size;
        row.ms = summarize({figures.durable_ms});
        row.ns_per_task = figures.durable_ms * 1e6 / graph.size;
        row.detail = fmt::format(
            "random DAG of {} tasks, up to 4 deps among the previous 50: {:.1f} ms with the SQLite store vs {:.1f} ms "
            "without ({:.2f}x); {:.0f} durable tasks/s, {:.0f}% of SQLite's floor of {:.0f} tiny WAL transactions/s; "
            "the same records written in two transactions: {:.1f} ms ({:.2f}x the in-memory run)",
            graph.size, figures.durable_ms, figures.memory_ms, ratio, per_second,
            100.0 * per_second / figures.floor_per_second, figures.floor_per_second, figures.two_commit_ms,
            figures.two_commit_ms / figures.memory_ms);
        row.target = "at most 3x the in-memory run";
        row.target_met = ratio <= 3.0;
        row.result_ok = figures.ok;
        row.extra = {{"memory_ms", figures.memory_ms},
                     {"durable_ms", figures.durable_ms},
                     {"ratio", ratio},
                     {"durable_tasks_per_second", per_second},
                     {"floor_transactions_per_second", figures.floor_per_second},
                     {"two_commit_ms", figures.two_commit_ms}};
        rows_.push_back(std::move(row));
    }

    // The random DAG of the dag workload with and without concurrency limits and priorities, in
    // one process: the five variants take turns, the first one rotating each repetition, and
    // each repetition's ratio to the plain job is the figure.
    void limits_workload() {
        if (!wants("jobgraph")) return;
        const StaticGraph graph = random_dag(sizes_.graph_tasks, 4, sizes_.dag_window, 42);
        const auto limit = static_cast<std::int64_t>(workers_);
        const LimitsBench bench(graph, workers_, limit, 5);
        const Checksum expected = expected_checksum(graph.size);
        constexpr std::array variants{LimitsVariant::plain, LimitsVariant::priorities, LimitsVariant::limits,
                                      LimitsVariant::both, LimitsVariant::ordered_priorities};
        std::array<std::vector<double>, variants.size()> ms, own_ms;
        bool ok = true;
        if (repeat_ > 1) {
            for (const auto variant : variants) (void)bench.run(variant);  // warm-up
        }
        for (int rep = 0; rep < repeat_; ++rep) {
            for (std::size_t k = 0; k < variants.size(); ++k) {
                const std::size_t v = (k + static_cast<std::size_t>(rep)) % variants.size();
                const LimitsRun run = bench.run(variants[v]);
                ms[v].push_back(run.ms);
                own_ms[v].push_back(run.own_run_ms);
                if (!run.ok || !(run.checksum == expected)) {
                    ok = false;
                    fmt::print(stderr, "limits: wrong result (sum {} count {}) {}\n", run.checksum.sum,
                               run.checksum.count, run.problem);
                }
            }
        }
        // Per repetition, a variant's time over the plain job's.
        const auto paired = [&](const std::array<std::vector<double>, variants.size()>& times, std::size_t v) {
            std::vector<double> ratios;
            for (std::size_t rep = 0; rep < times[v].size(); ++rep) ratios.push_back(times[v][rep] / times[0][rep]);
            return summarize(ratios);
        };
        const auto describe = [](const Summary& s) { return fmt::format("{:.2f} ({:.2f}-{:.2f})", s.median, s.min, s.max); };
        const Summary both = paired(ms, 3);
        Row row;
        row.workload = "limits";
        row.system = "jobgraph";
        row.tasks = graph.size;
        row.ms = summarize(ms[3]);
        row.ns_per_task = row.ms.median * 1e6 / static_cast<double>(row.tasks);
        row.result_ok = ok;
        row.target = "limits+priorities <= 1.2x plain";
        row.target_met = both.median <= 1.2;
        row.detail = fmt::format(
            "the dag workload's graph, odd tasks on a second command; limits {{bench: {0}, bench/half: {0}}}, "
            "priorities 0-9 at random; paired ratio to the plain job (median {1:.1f} ms), median (min-max) over {2}: "
            "both {3}, limits only {4}, priorities only {5}, priorities falling with the index (plain start order) "
            "{6}; the run itself (stats.wall_ms): both {7}, priorities only {8}, falling with the index {9}",
            limit, summarize(ms[0]).median, repeat_, describe(both), describe(paired(ms, 2)), describe(paired(ms, 1)),
            describe(paired(ms, 4)), describe(paired(own_ms, 3)), describe(paired(own_ms, 1)),
            describe(paired(own_ms, 4)));
        row.extra = {{"plain_ms", summarize(ms[0]).median},
                     {"ratio_both", both.median},
                     {"ratio_both_min", both.min},
                     {"ratio_both_max", both.max},
                     {"ratio_limits", paired(ms, 2).median},
                     {"ratio_priorities", paired(ms, 1).median},
                     {"ratio_ordered_priorities", paired(ms, 4).median},
                     {"own_run_ratio_both", paired(own_ms, 3).median}};
        rows_.push_back(std::move(row));
    }

    // Independent asynchronous tasks under a job concurrency limit: how close the makespan comes
    // to keeping every slot busy, and that the limit holds.
    void async_limit_workload() {
        if (!wants("jobgraph")) return;
        StaticGraph graph = chain(1);  // reshaped below: independent tasks
        graph.shape = "independent";
        graph.size = sizes_.async_limit_tasks;
        graph.offsets.assign(graph.size + 1, 0);
        add_sleeps(graph, sizes_.async_limit_min_ms, sizes_.async_limit_max_ms, 13);
        double total_ms = 0.0;
        for (const auto sleep : graph.sleep_ms) total_ms += sleep;
        const double ideal = total_ms / static_cast<double>(sizes_.async_limit);
        const Checksum expected = expected_checksum(graph.size);
        std::vector<double> makespans;
        std::int64_t most_running = 0;
        bool ok = true;
        for (int rep = 0; rep < repeat_; ++rep) {
            const AsyncLimitRun run = run_async_limit(graph, sizes_.async_limit, workers_);
            makespans.push_back(run.makespan_ms);
            most_running = std::max(most_running, run.most_running);
            if (!run.ok || !(run.checksum == expected)) {
                ok = false;
                fmt::print(stderr, "async-limit: {}\n", run.problem.empty() ? "wrong checksum" : run.problem);
            }
        }
        Row row;
        row.workload = "async-limit";
        row.system = "jobgraph";
        row.tasks = graph.size;
        row.ms = summarize(makespans);
        row.ns_per_task = row.ms.median * 1e6 / static_cast<double>(row.tasks);
        row.result_ok = ok;
        row.target = fmt::format("makespan <= {:.1f} ms", 1.1 * ideal);
        row.target_met = row.ms.median <= 1.1 * ideal;
        row.detail = fmt::format(
            "{} independent tasks of {}-{} ms (async completion, timer thread) under concurrency {{bench: {}}}: "
            "makespan {:.1f} ms = {:.3f}x (range {:.3f}-{:.3f}x) the ideal {:.1f} ms (sum of durations / limit); at "
            "most {} calls in flight",
            graph.size, sizes_.async_limit_min_ms, sizes_.async_limit_max_ms, sizes_.async_limit, row.ms.median,
            row.ms.median / ideal, row.ms.min / ideal, row.ms.max / ideal, ideal, most_running);
        row.extra = {{"ideal_ms", ideal}, {"ratio", row.ms.median / ideal}, {"most_running", most_running}};
        rows_.push_back(std::move(row));
    }

    // "memory" is the row: a million trivial tasks, which here carry nothing. "memory-json"
    // gives each the timing workloads' JSON input and output (rounds one to ten measured that).
    void memory_workload(const std::string& name, MemoryPayload payload) {
        const std::uint32_t tasks = sizes_.memory_tasks;
        const Checksum expected = payload == MemoryPayload::empty ? Checksum{0, tasks} : expected_checksum(tasks);
        for (const auto& system : system_names_) {
            const MemoryRun run = probe_memory(self_, system, tasks, payload);
            const bool ok = run.ok && run.checksum == expected;
            if (!ok) fmt::print(stderr, "memory on {}: {}\n", system, run.problem);
            const double peak_bytes = static_cast<double>(run.peak_kb) * 1024.0;
            const double per_task = static_cast<double>(run.peak_kb - run.baseline_kb) * 1024.0 / tasks;
            Row row;
            row.workload = name;
            row.system = system;
            row.tasks = tasks;
            row.result_ok = ok;
            row.detail = fmt::format("chain of {} tasks {}: peak RSS {:.0f} MB, {:.0f} bytes per task above the {:.0f} "
                                     "MB baseline (VmHWM, child process)",
                                     tasks, payload == MemoryPayload::empty ? "with empty bodies" : "with the JSON payload",
                                     peak_bytes / 1e6, per_task, static_cast<double>(run.baseline_kb) * 1024 / 1e6);
            row.extra = {{"peak_bytes", peak_bytes}, {"bytes_per_task", per_task}};
            if (system == "jobgraph" && payload == MemoryPayload::empty) {
                row.target = "peak <= 1 GiB";
                row.target_met = peak_bytes <= 1024.0 * 1024 * 1024;
            }
            rows_.push_back(std::move(row));
        }
    }

    Sizes sizes_;
    std::vector<std::string> system_names_;
    int repeat_;
    std::size_t workers_;
    std::string self_;
    std::vector<Row> rows_;
};

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t end = std::min(text.find(',', start), text.size());
        if (end > start) items.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return items;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
    using namespace bench;
    CLI::App app{"jobgraph_bench: jobgraph vs oneTBB flow graph vs a single-threaded loop"};
    std::string system = "all";
    std::string workload = "all";
    std::string scale = "full";
    int repeat = 5;
    std::size_t workers = 2;
    std::string json_path;
    std::uint32_t tasks = 0;
    int depth = 0;
    std::string memory_child;
    app.add_option("--system", system, "jobgraph, tbb, loop or all (comma-separated list allowed)");
    app.add_option("--workload", workload,
                   "dag, chain, fanout, validate, spawn, spawn-cost, async-dag, async-wait, small-jobs, memory, "
                   "memory-json, durable, limits, async-limit or all (comma-separated)");
    app.add_option("--scale", scale, "small (seconds, for CI) or full (the issue's sizes)")
        ->check(CLI::IsMember({"small", "full"}));
    app.add_option("--repeat", repeat, "timed repetitions per system (interleaved)")->check(CLI::PositiveNumber);
    app.add_option("--workers", workers, "worker threads for jobgraph and oneTBB")->check(CLI::PositiveNumber);
    app.add_option("--tasks", tasks, "override the task count of dag/chain/fanout/limits/memory/memory-json");
    app.add_option("--depth", depth, "override the recursion depth of spawn");
    app.add_option("--json", json_path, "also write the table as JSON to this file");
    app.add_option("--memory-child", memory_child, "internal: run the memory workload on one system")
        ->group("");
    std::string memory_payload = "json";
    app.add_option("--memory-payload", memory_payload, "internal: what the memory child's tasks carry")
        ->check(CLI::IsMember({"empty", "json"}))
        ->group("");
    CLI11_PARSE(app, argc, argv);

    if (!memory_child.empty()) {
        return memory_child_main(memory_child, tasks, workers,
                                 memory_payload == "empty" ? MemoryPayload::empty : MemoryPayload::json);
    }

    Sizes sizes = scale == "small" ? small_sizes() : Sizes{};
    if (tasks > 0) sizes.graph_tasks = sizes.memory_tasks = tasks;
    if (depth > 0) sizes.recursion_depth = depth;

    std::vector<std::string> systems = system == "all" ? std::vector<std::string>{"jobgraph", "tbb", "loop"}
                                                       : split_list(system);
    std::vector<std::string> workloads = workload == "all" ? all_workloads : split_list(workload);
    for (const auto& s : systems) {
        if (s != "jobgraph" && s != "tbb" && s != "loop") {
            fmt::print(stderr, "unknown system: {}\n", s);
            return 2;
        }
    }
    for (const auto& w : workloads) {
        if (std::find(all_workloads.begin(), all_workloads.end(), w) == all_workloads.end()) {
            fmt::print(stderr, "unknown workload: {}\n", w);
            return 2;
        }
    }

    Bench bench(sizes, systems, repeat, workers, std::filesystem::read_symlink("/proc/self/exe").string());
    for (const auto& w : workloads) bench.run(w);

    std::string command = "jobgraph_bench";
    for (int i = 1; i < argc; ++i) command += fmt::format(" {}", argv[i]);
    fmt::print("\n{} | {} | {} workers | repeat {} | scale {}\n\n", command, machine_description(), workers, repeat,
               scale);
    print_table(bench.rows());

    if (!json_path.empty()) {
        const nlohmann::json info{{"command", command}, {"machine", machine_description()}, {"workers", workers},
                                  {"repeat", repeat},   {"scale", scale}};
        std::ofstream(json_path) << to_json_report(bench.rows(), info).dump(2) << '\n';
    }
    if (!bench.all_results_ok()) {
        fmt::print(stderr, "FAILED: a system computed a wrong result (see above)\n");
        return 1;
    }
    return 0;
}
