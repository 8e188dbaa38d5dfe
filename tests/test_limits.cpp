// Section 12: ready tasks start by priority, then creation order; concurrency limits (per job
// and per handler across jobs) cap how many tasks of a key run at once, and a task they hold
// back never holds back another.
#include "run_probes.hpp"

#include <fmt/format.h>

#include <mutex>
#include <thread>

using namespace jobgraph;
using namespace jobgraph::testing;
using namespace std::chrono_literals;

namespace {

using S = TaskStatus;

// A synchronous handler noting its calls; it waits (bounded) until input.peak calls of
// input.waitKey have run at once, so that a limit is reached whenever it can be, then sleeps
// input.ms.
Handler noting(CallLog& log) {
    return [&log](TaskContext& ctx) {
        const auto call = log.scope(ctx);
        if (ctx.input().contains("waitKey")) {
            log.wait_for_peak(ctx.input().at("waitKey").get<std::string>(), ctx.input().at("peak").get<int>());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(ctx.input().value("ms", 0)));
        return json::object();
    };
}

// An asynchronous handler that fulfils its completion from a thread of its own, once input.peak
// calls of input.waitKey ran at once (if given) and then input.ms later.
struct AsyncNoting {
    CallLog& log;
    std::mutex mutex;
    std::vector<std::thread> threads;

    explicit AsyncNoting(CallLog& l) : log(l) {}
    ~AsyncNoting() { join(); }
    AsyncHandler handler() {
        return [this](TaskContext& ctx, Completion done) {
            const std::size_t call = log.enter(ctx);
            std::string key = ctx.input().value("waitKey", std::string());
            const int peak = ctx.input().value("peak", 0);
            const auto ms = std::chrono::milliseconds(ctx.input().value("ms", 0));
            const std::lock_guard lock(mutex);
            threads.emplace_back([this, call, key = std::move(key), peak, ms, done = std::move(done)] {
                if (!key.empty()) log.wait_for_peak(key, peak);
                std::this_thread::sleep_for(ms);
                log.leave(call);
                done.succeed();
            });
        };
    }
    void join() {
        std::vector<std::thread> done;
        {
            const std::lock_guard lock(mutex);
            done.swap(threads);
        }
        for (auto& thread : done) thread.join();
    }
};

TaskSpec with_priority(TaskSpec spec, int priority) {
    spec.priority = priority;
    return spec;
}

}  // namespace

TEST_CASE("On one worker ready tasks start by priority, then creation order", "[limits][priority]") {
    CallLog log;
    HandlerRegistry registry;
    registry.add("p", "x", noting(log));
    // d becomes ready when r1 ends, and goes before everything already waiting.
    JobSpec spec = job({with_priority(task("p", "x", {}, {}, "r0"), 0), with_priority(task("p", "x", {}, {}, "r1"), 5),
                        with_priority(task("p", "x", {}, {}, "r2"), 5), with_priority(task("p", "x", {}, {}, "r3"), -1),
                        with_priority(task("p", "x", {}, {}, "r4"), 3), with_priority(task("p", "x", {}, {"r1"}, "d"), 10)});
    const auto result = run(registry, spec, 1);
    CHECK(result.status == JobStatus::succeeded);
    CHECK(log.order() == std::vector<std::string>{"r1", "d", "r2", "r4", "r0", "r3"});
    CHECK(ids_of(result) == log.order());  // the result lists tasks by start
}

TEST_CASE("Priorities come from taskDefaults unless a task has its own, spawned children included",
          "[limits][priority]") {
    CallLog log;
    HandlerRegistry registry;
    registry.add("p", "x", noting(log));
    registry.add("p", "spawn", [&log](TaskContext& ctx) {
        const auto call = log.scope(ctx);
        ctx.spawn(with_priority(task("p", "x", {}, {}, "c0"), 0));
        ctx.spawn(task("p", "x", {}, {}, "c1"));
        ctx.spawn(with_priority(task("p", "x", {}, {}, "c2"), 7));
        return json::object();
    });
    JobSpec spec = job({with_priority(task("p", "spawn", {}, {}, "p"), 9), with_priority(task("p", "x", {}, {}, "x"), 0),
                        task("p", "x", {}, {}, "y")});
    spec.task_defaults.priority = 1;
    const auto result = run(registry, spec, 1);
    CHECK(result.status == JobStatus::succeeded);
    CHECK(log.order() == std::vector<std::string>{"p", "c2", "y", "c1", "x", "c0"});
    CHECK(result.at("c1").priority == 1);
    CHECK(result.at("y").priority == 1);
    CHECK(result.at("x").priority == 0);
}

TEST_CASE("Under a limit of one, tasks of the key start by priority at any worker count", "[limits][priority]") {
    CallLog log;
    HandlerRegistry registry;
    registry.add("p", "x", noting(log));
    registry.add("q", "x", noting(log));
    JobSpec spec = job({with_priority(task("p", "x", {}, {}, "r0"), 0), with_priority(task("p", "x", {}, {}, "r1"), 5),
                        with_priority(task("q", "x", {}, {}, "free"), 100), with_priority(task("p", "x", {}, {}, "r2"), 5),
                        with_priority(task("p", "x", {}, {}, "r3"), -1), with_priority(task("p", "x", {}, {}, "r4"), 3)});
    spec.concurrency = {{"p", 1}};
    const auto result = run(registry, spec, any_worker_count());
    CHECK(result.status == JobStatus::succeeded);
    std::vector<std::string> limited;
    for (const auto& id : log.order()) {
        if (id != "free") limited.push_back(id);
    }
    CHECK(limited == std::vector<std::string>{"r1", "r2", "r4", "r0", "r3"});
    CHECK(log.peak("p") == 1);
}

TEST_CASE("A service's limit caps its tasks running at once, and is reached", "[limits]") {
    CallLog log;
    HandlerRegistry registry;
    registry.add("api", "a", noting(log));
    registry.add("api", "b", noting(log));
    registry.add("free", "x", noting(log));
    const std::size_t workers = any_worker_count();
    const int reachable = std::min(2, static_cast<int>(workers));
    const json input{{"waitKey", "api"}, {"peak", reachable}, {"ms", 2}};
    std::vector<TaskSpec> tasks;
    for (int i = 0; i < 10; ++i) {
        tasks.push_back(task("api", "a", input));
        tasks.push_back(task("api", "b", input));
        if (i % 2) tasks.push_back(task("free", "x", {{"ms", 1}}));
    }
    JobSpec spec = job(std::move(tasks));
    spec.concurrency = {{"api", 2}};
    const auto result = run(registry, spec, workers);
    CHECK(result.status == JobStatus::succeeded);
    CHECK(result.stats.succeeded == 25);
    CHECK(log.peak("api") == reachable);
}

TEST_CASE("Every key that matches a task applies: a service/command limit within a service limit", "[limits]") {
    CallLog log;
    HandlerRegistry registry;
    registry.add("api", "slow", noting(log));
    registry.add("api", "fast", noting(log));
    const std::size_t workers = any_worker_count();
    const int reachable = std::min(3, static_cast<int>(workers));
    std::vector<TaskSpec> tasks;
    for (int i = 0; i < 12; ++i) {
        if (i % 2 == 0) tasks.push_back(task("api", "slow", {{"ms", 3}}));
        tasks.push_back(task("api", "fast", {{"waitKey", "api"}, {"peak", reachable}, {"ms", 1}}));
    }
    JobSpec spec = job(std::move(tasks));
    spec.concurrency = {{"api/slow", 1}, {"api", 3}};
    const auto result = run(registry, spec, workers);
    CHECK(result.status == JobStatus::succeeded);
    CHECK(log.peak("api/slow") == 1);
    CHECK(log.peak("api") == reachable);
}

TEST_CASE("Asynchronous tasks hold their place under a limit until their completion", "[limits][async]") {
    CallLog log;
    AsyncNoting async(log);
    HandlerRegistry registry;
    registry.add_async("io", "wait", async.handler());
    std::vector<TaskSpec> tasks(8, task("io", "wait", {{"waitKey", "io"}, {"peak", 2}, {"ms", 5}}));
    JobSpec spec = job(std::move(tasks));
    spec.concurrency = {{"io", 2}};
    const auto result = run(registry, spec, any_worker_count());
    async.join();
    CHECK(result.status == JobStatus::succeeded);
    CHECK(log.peak("io") == 2);
}

TEST_CASE("A task held back by a full limit never holds back a task the limit does not cover", "[limits]") {
    CallLog log;
    Signals signals;
    std::atomic<int> quick_calls{0};
    HandlerRegistry registry;
    registry.add("quick", "x", [&](TaskContext& ctx) {
        log.leave(log.enter(ctx));
        if (++quick_calls == 6) signals.raise("quick done");  // once its call ended in the log
        return json::object();
    });
    std::mutex mutex;
    std::vector<std::thread> threads;
    // The limited tasks go first by priority; the first one ends only once every quick task ran.
    registry.add_async("slow", "async", [&](TaskContext& ctx, Completion done) {
        const std::size_t call = log.enter(ctx);
        const std::lock_guard lock(mutex);
        threads.emplace_back([&, call, done = std::move(done)] {
            signals.wait("quick done");
            log.leave(call);
            done.succeed();
        });
    });
    registry.add("slow", "sync", [&](TaskContext& ctx) {
        const auto call = log.scope(ctx);
        signals.wait("quick done");
        return json::object();
    });
    SECTION("asynchronous limited tasks, at any worker count") {
        std::vector<TaskSpec> tasks(4, with_priority(task("slow", "async"), 10));
        for (int i = 0; i < 6; ++i) tasks.push_back(task("quick", "x"));
        JobSpec spec = job(std::move(tasks));
        spec.concurrency = {{"slow", 1}};
        const auto result = run(registry, spec, any_worker_count());
        for (auto& thread : threads) thread.join();
        CHECK(result.status == JobStatus::succeeded);
    }
    SECTION("synchronous limited tasks, with a worker to spare") {
        std::vector<TaskSpec> tasks(4, with_priority(task("slow", "sync"), 10));
        for (int i = 0; i < 6; ++i) tasks.push_back(task("quick", "x"));
        JobSpec spec = job(std::move(tasks));
        spec.concurrency = {{"slow", 1}};
        const auto result = run(registry, spec, GENERATE(as<std::size_t>{}, 2, 4, 8));
        CHECK(result.status == JobStatus::succeeded);
    }
    CHECK(log.peak("slow") == 1);
    // Every quick call ended while the first limited task still ran, and the other limited
    // tasks waited for it.
    const auto calls = log.calls();
    REQUIRE(calls.size() == 10);
    const auto first_slow =
        std::find_if(calls.begin(), calls.end(), [](const CallRecord& call) { return call.keys.front() == "slow"; });
    REQUIRE(first_slow != calls.end());
    for (const CallRecord& call : calls) {
        if (call.keys.front() == "quick") CHECK(call.ended < first_slow->ended);
        if (call.keys.front() == "slow" && &call != &*first_slow) CHECK(call.began > first_slow->ended);
    }
}

TEST_CASE("A handler's own limit is shared by the jobs an orchestrator runs at once", "[limits][async]") {
    CallLog log;
    AsyncNoting async(log);
    HandlerRegistry registry;
    registry.add("api", "call", noting(log), {.max_concurrency = 2});
    registry.add_async("api", "async", async.handler(), {.max_concurrency = 3});
    const std::size_t workers = any_worker_count();
    const int reachable_sync = std::min(2, 2 * static_cast<int>(workers));
    std::vector<TaskSpec> tasks;
    for (int i = 0; i < 8; ++i) {
        tasks.push_back(task("api", "call", {{"waitKey", "api/call"}, {"peak", reachable_sync}, {"ms", 2}}));
        tasks.push_back(task("api", "async", {{"waitKey", "api/async"}, {"peak", 3}, {"ms", 2}}));
    }
    const JobSpec spec = job(std::move(tasks));
    const Orchestrator orchestrator(registry, {.workers = workers});
    JobResult first;
    JobResult second;
    std::thread other([&] { first = orchestrator.run(spec); });
    second = orchestrator.run(spec);
    other.join();
    async.join();
    CHECK(first.status == JobStatus::succeeded);
    CHECK(second.status == JobStatus::succeeded);
    CHECK(log.calls().size() == 32);
    CHECK(log.peak("api/call") == reachable_sync);
    CHECK(log.peak("api/async") == 3);
}
