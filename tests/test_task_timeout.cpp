// Section 11: a task's `timeout` bounds each attempt. At the deadline the attempt fails (and
// may be retried); whatever the handler returns afterwards is ignored, and a new attempt never
// starts while an earlier call of the same task is still on.
#include "run_probes.hpp"
#include "temp_database.hpp"

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <thread>

using namespace jobgraph;
using namespace jobgraph::testing;
using namespace std::chrono_literals;

namespace {

using S = TaskStatus;

// Handlers that overrun, every call noted in `log`:
//  tt/honour:   waits input.ms, giving up (StopRequested) once its stop token turns on; from
//               attempt input.quickFrom on it returns at once
//  tt/stubborn: sleeps input.ms whatever its token says, then returns a result with a child;
//               notes when each attempt's call returned
//  tt/never:    asynchronous; keeps its completion and never fulfils it; from attempt 2 on it
//               first fulfils the kept one (late), then its own at once
//  tt/late:     asynchronous; fulfils its completion input.ms later from a thread of its own,
//               whatever its token says
struct TimeoutHandlers {
    CallLog log;
    std::mutex mutex;
    std::map<std::pair<std::string, int>, Timestamp> returned_at;  // tt/stubborn: by task and attempt
    std::vector<Completion> kept;
    std::vector<std::thread> threads;
    HandlerRegistry registry;

    TimeoutHandlers() {
        registry.add("tt", "honour", [this](TaskContext& ctx) {
            const auto call = log.scope(ctx);
            if (ctx.attempt() >= ctx.input().value("quickFrom", 1000)) return json{{"attempt", ctx.attempt()}};
            const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ctx.input().value("ms", 0));
            while (std::chrono::steady_clock::now() < until) {
                ctx.throw_if_stop_requested();
                std::this_thread::sleep_for(1ms);
            }
            return json{{"done", true}};
        });
        registry.add("tt", "stubborn", [this](TaskContext& ctx) {
            const auto call = log.scope(ctx);
            std::this_thread::sleep_for(std::chrono::milliseconds(ctx.input().value("ms", 0)));
            const std::lock_guard lock(mutex);
            returned_at[{ctx.id(), ctx.attempt()}] = now_utc();
            return json{{"output", {{"late", true}}}, {"childTasks", json::array({child("tt", "honour")})}};
        });
        registry.add_async("tt", "never", [this](TaskContext& ctx, Completion done) {
            log.enter(ctx);
            const std::lock_guard lock(mutex);
            if (ctx.attempt() >= 2 && !kept.empty()) {
                kept.back().succeed(json{{"late", true}});
                done.succeed(json{{"attempt", ctx.attempt()}});
                return;
            }
            kept.push_back(std::move(done));
        });
        registry.add_async("tt", "late", [this](TaskContext& ctx, Completion done) {
            const std::size_t call = log.enter(ctx);
            const auto ms = std::chrono::milliseconds(ctx.input().value("ms", 0));
            const std::lock_guard lock(mutex);
            threads.emplace_back([this, call, ms, done = std::move(done)] {
                std::this_thread::sleep_for(ms);
                log.leave(call);
                done.succeed(json{{"output", {{"late", true}}}, {"childTasks", json::array({child("tt", "honour")})}});
            });
        });
    }
    ~TimeoutHandlers() { join(); }
    void join() {
        std::vector<std::thread> done;
        {
            const std::lock_guard lock(mutex);
            done.swap(threads);
        }
        for (auto& thread : done) thread.join();
    }
    Timestamp returned(const std::string& task, int attempt) {
        const std::lock_guard lock(mutex);
        return returned_at.at({task, attempt});
    }
};

TaskSpec timed(std::string id, std::string command, json input, std::chrono::milliseconds timeout,
               std::optional<RetryPolicy> retry = std::nullopt) {
    TaskSpec spec = task("tt", std::move(command), std::move(input), {}, std::move(id));
    spec.timeout = timeout;
    spec.retry = std::move(retry);
    return spec;
}

}  // namespace

TEST_CASE("A handler that overruns its task timeout and honours its stop token fails its attempt", "[task_timeout]") {
    TimeoutHandlers handlers;
    // "other" has no timeout of its own: the deadline stops only the attempt that ran out.
    JobSpec spec = job({timed("slow", "honour", {{"ms", 10000}}, 50ms), timed("other", "honour", {{"ms", 100}}, 0ms)});
    spec.abort_on_failure = false;
    const auto result = run(handlers.registry, spec, any_worker_count());

    CHECK(result.status == JobStatus::failed);
    CHECK_FALSE(result.error_message.has_value());
    const TaskRecord& slow = result.at("slow");
    CHECK(slow.status == S::failed);
    CHECK(slow.attempts == 1);
    CHECK(slow.output == json{{"error", "Task timeout: 50ms limit exceeded"}});
    CHECK(history_statuses(slow) == std::vector<S>{S::pending, S::started, S::failed});
    CHECK(slow.history.back().reason == "Task timeout: 50ms limit exceeded");
    CHECK(slow.history[2].at - slow.history[1].at >= 50ms);
    CHECK(result.at("other").status == S::succeeded);
    CHECK(result.at("other").output == json{{"done", true}});
}

TEST_CASE("An attempt that times out is retried like any failed attempt", "[task_timeout][retry]") {
    TimeoutHandlers handlers;
    JobSpec spec = job({timed("recovers", "honour", {{"ms", 10000}, {"quickFrom", 2}}, 30ms, retry_policy(3, 1ms)),
                        timed("gives-up", "honour", {{"ms", 10000}}, 30ms, retry_policy(2, 1ms))});
    spec.abort_on_failure = false;
    const auto result = run(handlers.registry, spec, any_worker_count());

    const TaskRecord& recovers = result.at("recovers");
    CHECK(recovers.status == S::succeeded);
    CHECK(recovers.attempts == 2);
    CHECK(recovers.output == json{{"attempt", 2}});
    CHECK(history_statuses(recovers) == std::vector<S>{S::pending, S::started, S::retrying, S::started, S::succeeded});
    CHECK(recovers.history[2].reason == "Attempt 1 of 3 failed: Task timeout: 30ms limit exceeded; next attempt in 1 ms");
    const TaskRecord& gives_up = result.at("gives-up");
    CHECK(gives_up.status == S::failed);
    CHECK(gives_up.attempts == 2);
    CHECK(handlers.log.calls_of("gives-up") == 2);
    CHECK(gives_up.output == json{{"error", "Task timeout: 30ms limit exceeded"}});
    CHECK(history_statuses(gives_up) == std::vector<S>{S::pending, S::started, S::retrying, S::started, S::failed});
    CHECK(handlers.log.overlapping_tasks().empty());
}

TEST_CASE("A handler that ignores its stop token: the next attempt waits for its call, and its result is ignored",
          "[task_timeout][retry]") {
    TimeoutHandlers handlers;
    std::vector<TaskSpec> tasks;
    for (int i = 0; i < 3; ++i) tasks.push_back(timed(std::to_string(i), "stubborn", {{"ms", 200}}, 20ms, retry_policy(2, 0ms)));
    JobSpec spec = job(std::move(tasks));
    spec.abort_on_failure = false;
    const auto result = run(handlers.registry, spec, any_worker_count());

    CHECK(handlers.log.overlapping_tasks().empty());
    CHECK(result.stats.total == 3);  // no child of a late result was added
    for (const auto& record : result.tasks) {
        INFO(record.id);
        CHECK(record.status == S::failed);
        CHECK(record.attempts == 2);
        CHECK(handlers.log.calls_of(record.id) == 2);
        CHECK(record.output == json{{"error", "Task timeout: 20ms limit exceeded"}});
        CHECK(record.children.empty());
        REQUIRE(history_statuses(record) == std::vector<S>{S::pending, S::started, S::retrying, S::started, S::failed});
        // Each attempt failed at its deadline, before its call returned; the second started after
        // the first call returned.
        CHECK(record.history[2].at < handlers.returned(record.id, 1));
        CHECK(record.history[3].at >= handlers.returned(record.id, 1));
        CHECK(record.history[4].at < handlers.returned(record.id, 2));
        CHECK(record.completed_at == record.history[4].at);
    }
}

TEST_CASE("An asynchronous attempt that never completes fails at its deadline and is given up on after the grace period",
          "[task_timeout][async]") {
    // Shared with the run's thread: should the run not return, it still has what it uses.
    auto handlers = std::make_shared<TimeoutHandlers>();
    const std::size_t workers = any_worker_count();
    auto result = std::make_shared<JobResult>();
    const OrchestratorOptions options{.workers = workers, .grace_period = 50ms};

    SECTION("without retry the run returns") {
        const JobSpec spec = job({timed("a", "never", json::object(), 30ms)});
        REQUIRE(returns_soon([=] { *result = Orchestrator(handlers->registry, options).run(spec); }));
        CHECK(result->status == JobStatus::failed);
        const TaskRecord& a = result->at("a");
        CHECK(a.status == S::failed);
        CHECK(a.attempts == 1);
        CHECK(a.output == json{{"error", "Task timeout: 30ms limit exceeded"}});
        CHECK(history_statuses(a) == std::vector<S>{S::pending, S::started, S::failed});
        // A completion that comes after the run is taken in and changes nothing.
        const std::lock_guard lock(handlers->mutex);
        REQUIRE(handlers->kept.size() == 1);
        handlers->kept.front().succeed(json{{"late", true}});
    }
    SECTION("with retry the next attempt starts once the grace period is over, and the late completion is ignored") {
        const JobSpec spec = job({timed("a", "never", json::object(), 30ms, retry_policy(2, 0ms))});
        REQUIRE(returns_soon([=] { *result = Orchestrator(handlers->registry, options).run(spec); }));
        CHECK(result->status == JobStatus::succeeded);
        const TaskRecord& a = result->at("a");
        CHECK(a.status == S::succeeded);
        CHECK(a.attempts == 2);
        CHECK(a.output == json{{"attempt", 2}});
        REQUIRE(history_statuses(a) == std::vector<S>{S::pending, S::started, S::retrying, S::started, S::succeeded});
        CHECK(a.history[2].reason == "Attempt 1 of 2 failed: Task timeout: 30ms limit exceeded; next attempt in 0 ms");
        // The grace period, less the microseconds between the run's readings of its two clocks.
        CHECK(a.history[3].at - a.history[2].at >= 49ms);
    }
}

TEST_CASE("What an asynchronous handler completes after its deadline is ignored, and its retry waits for it",
          "[task_timeout][async][retry]") {
    TimeoutHandlers handlers;
    // "hold" keeps the job running while the late completions come.
    JobSpec spec = job({timed("late", "late", {{"ms", 200}}, 20ms, retry_policy(2, 0ms)),
                        timed("hold", "honour", {{"ms", 500}}, 0ms)});
    spec.abort_on_failure = false;
    const auto result = run(handlers.registry, spec, any_worker_count());
    handlers.join();

    const TaskRecord& late = result.at("late");
    CHECK(late.status == S::failed);
    CHECK(late.attempts == 2);
    CHECK(late.output == json{{"error", "Task timeout: 20ms limit exceeded"}});
    CHECK(late.children.empty());
    CHECK(result.stats.total == 2);
    CHECK(history_statuses(late) == std::vector<S>{S::pending, S::started, S::retrying, S::started, S::failed});
    CHECK(handlers.log.calls_of("late") == 2);
    CHECK(handlers.log.overlapping_tasks().empty());
    CHECK(result.at("hold").status == S::succeeded);
}

TEST_CASE("With a store, an attempt's time starts when its handler is called, not while it waits behind another",
          "[task_timeout][persistence]") {
    // With a store one worker takes several ready tasks at once (their starts share a commit)
    // and calls their handlers one after the other. Each handler needs 30 ms of its 100.
    TimeoutHandlers handlers;
    std::vector<TaskSpec> tasks;
    for (int i = 0; i < 8; ++i) tasks.push_back(timed(std::to_string(i), "honour", {{"ms", 30}}, 100ms));
    JobSpec spec = job(std::move(tasks));
    spec.abort_on_failure = false;
    TempDatabase db("jobgraph-task-timeout");
    SqliteStore store(db.path);
    const std::string id = store.create_job(spec);
    const auto result = Orchestrator(handlers.registry, {.workers = 1}).resume(id, store);

    for (const auto& record : result.tasks) {
        INFO(record.id);
        CHECK(record.status == S::succeeded);
        CHECK(record.output == json{{"done", true}});
    }
    CHECK(result.status == JobStatus::succeeded);
}
