// Fuzzes what a handler returns. The input is parsed as JSON (inputs that are not JSON are
// skipped) and returned by the only root task of a small job. Children it spawns run "t/echo",
// which returns its input, and "t/result", which returns the fuzzed value again, so spawning
// can nest until the limits stop it. Checks that the job ends and that its result holds together.
#include <jobgraph/orchestrator.hpp>
#include <jobgraph/registry.hpp>
#include <jobgraph/result.hpp>
#include <jobgraph/spec.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

namespace {

using nlohmann::json;

constexpr std::int64_t max_tasks = 50;
constexpr std::int64_t max_depth = 3;

// The value the "t/result" handler returns during the current call; read by worker threads
// only while the run started by this call is on.
json returned_value;

const jobgraph::HandlerRegistry& fuzz_registry() {
    static const jobgraph::HandlerRegistry registry = [] {
        jobgraph::HandlerRegistry r;
        r.add("t", "result", [](jobgraph::TaskContext&) { return returned_value; }, {.side_effect_free = true});
        r.add("t", "echo", [](jobgraph::TaskContext& ctx) { return ctx.input(); }, {.side_effect_free = true});
        return r;
    }();
    return registry;
}

[[noreturn]] void violated(const char* what, const jobgraph::JobResult& result) {
    std::fprintf(stderr, "invariant violated: %s\n%s\n", what, json(result).dump(2).c_str());
    std::abort();
}

void check(const jobgraph::JobResult& result) {
    using jobgraph::TaskStatus;
    if (result.status == jobgraph::JobStatus::running) violated("the job did not end", result);
    if (result.tasks.empty()) violated("the root task is missing", result);
    if (static_cast<std::int64_t>(result.tasks.size()) > max_tasks) violated("more tasks than maxTasks", result);
    std::set<std::string> ids;
    for (const jobgraph::TaskRecord& task : result.tasks) {
        if (!ids.insert(task.id).second) violated("two tasks share an id", result);
        if (task.status == TaskStatus::pending || task.status == TaskStatus::started) {
            violated("a task was left pending or started", result);
        }
        if (task.depth < 0 || task.depth > max_depth) violated("a task deeper than maxDepth", result);
    }
    const jobgraph::JobStats& stats = result.stats;
    if (stats.total != result.tasks.size()) violated("stats.total is not the task count", result);
    if (stats.succeeded + stats.failed + stats.aborted + stats.planned + stats.pending != stats.total) {
        violated("the stats do not add up to total", result);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        returned_value = json::parse(data, data + size);
    } catch (const json::exception&) {
        return 0;
    }
    // One worker and two: the second lets children run while their siblings are added.
    static const jobgraph::Orchestrator one_worker(fuzz_registry(), {.workers = 1});
    static const jobgraph::Orchestrator two_workers(fuzz_registry(), {.workers = 2});

    jobgraph::JobSpec job;
    job.name = "fuzz";
    job.limits.max_tasks = max_tasks;
    job.limits.max_depth = max_depth;
    job.tasks.push_back({.id = "root", .service = "t", .command = "result"});
    const jobgraph::Orchestrator& orchestrator = size % 2 == 0 ? one_worker : two_workers;
    check(orchestrator.run(job));
    return 0;
}
