// Section 11: a failed attempt is tried again while the task's `retry` allows, with growing
// delays, between attempts holding no worker; only the final outcome counts.
#include "run_probes.hpp"

#include <fmt/format.h>

#include <mutex>
#include <numeric>
#include <thread>

using namespace jobgraph;
using namespace jobgraph::testing;
using namespace std::chrono_literals;

namespace {

// Handlers that fail on purpose, every call noted in `log`.
//  r/flaky:     fails ("fail <attempt>") while its attempt is at most input.failures, then
//               returns {"attempt": <attempt>}
//  r/permanent: throws NonRetryableError("bad request")
//  r/spawner:   attempt 1 spawns a child through its context, then fails; attempt 2 returns two
//               children of its own
//  r/async:     like r/flaky, fulfilling its completion from a thread of its own; with
//               input.permanent it fails for good (Completion::fail_permanently)
//  r/echo:      returns its input
struct RetryHandlers {
    CallLog log;
    std::mutex threads_mutex;
    std::vector<std::thread> threads;
    HandlerRegistry registry;

    RetryHandlers() {
        registry.add("r", "flaky", [this](TaskContext& ctx) {
            const auto call = log.scope(ctx);
            if (ctx.attempt() <= ctx.input().value("failures", 0)) {
                throw std::runtime_error(fmt::format("fail {}", ctx.attempt()));
            }
            return json{{"attempt", ctx.attempt()}};
        });
        registry.add("r", "permanent", [this](TaskContext& ctx) -> json {
            const auto call = log.scope(ctx);
            throw NonRetryableError("bad request");
        });
        registry.add("r", "spawner", [this](TaskContext& ctx) {
            const auto call = log.scope(ctx);
            if (ctx.attempt() == 1) {
                ctx.spawn(task("r", "echo", {{"from", 1}}));
                throw std::runtime_error("fail 1");
            }
            return json{{"childTasks", json::array({child("r", "echo", {{"from", 2}}), child("r", "echo", {{"from", 2}})})},
                        {"output", {{"attempt", ctx.attempt()}}}};
        });
        registry.add_async("r", "async", [this](TaskContext& ctx, Completion done) {
            const std::size_t call = log.enter(ctx);
            const int attempt = ctx.attempt();
            const bool fail = attempt <= ctx.input().value("failures", 0);
            const bool permanent = ctx.input().value("permanent", false);
            const std::lock_guard lock(threads_mutex);
            threads.emplace_back([this, call, attempt, fail, permanent, done = std::move(done)] {
                std::this_thread::sleep_for(1ms);
                log.leave(call);
                if (permanent) {
                    done.fail_permanently("gone for good");
                } else if (fail) {
                    done.fail(fmt::format("fail {}", attempt));
                } else {
                    done.succeed(json{{"attempt", attempt}});
                }
            });
        });
        registry.add("r", "echo", [this](TaskContext& ctx) {
            const auto call = log.scope(ctx);
            return ctx.input();
        });
    }
    ~RetryHandlers() { join(); }
    void join() {
        const std::lock_guard lock(threads_mutex);
        for (auto& thread : threads) thread.join();
        threads.clear();
    }
};

TaskSpec flaky(std::string id, int failures, std::optional<RetryPolicy> retry, std::vector<std::string> deps = {}) {
    TaskSpec spec = task("r", "flaky", {{"failures", failures}}, std::move(deps), std::move(id));
    spec.retry = std::move(retry);
    return spec;
}

using S = TaskStatus;

}  // namespace

TEST_CASE("A task that fails twice succeeds on its third attempt, each failure in its history", "[retry]") {
    RetryHandlers handlers;
    JobSpec spec = job({flaky("f", 2, retry_policy(3, 5ms)), task("r", "echo", {}, {"f"}, "after")});
    const auto result = run(handlers.registry, spec, any_worker_count());

    CHECK(result.status == JobStatus::succeeded);
    const TaskRecord& f = result.at("f");
    CHECK(f.status == S::succeeded);
    CHECK(f.attempts == 3);
    CHECK(handlers.log.calls_of("f") == 3);
    CHECK(history_statuses(f) ==
          std::vector<S>{S::pending, S::started, S::retrying, S::started, S::retrying, S::started, S::succeeded});
    CHECK(f.history[2].reason == "Attempt 1 of 3 failed: fail 1; next attempt in 5 ms");
    CHECK(f.history[4].reason == "Attempt 2 of 3 failed: fail 2; next attempt in 10 ms");
    CHECK(f.output == json{{"attempt", 3}});  // the last attempt's
    CHECK(f.started_at == f.history[1].at);   // the first attempt's start
    CHECK(f.completed_at == f.history.back().at);
    CHECK_FALSE(f.next_attempt_at.has_value());
    CHECK(f.retry == retry_policy(3, 5ms));
    // Its dependent waited for the final outcome.
    CHECK(result.at("after").status == S::succeeded);
    CHECK(*result.at("after").started_at >= *f.completed_at);
    CHECK(result.stats.retrying == 0);
    CHECK(handlers.log.overlapping_tasks().empty());
}

TEST_CASE("A task that fails every attempt ends failed with its last error, and its dependents are aborted",
          "[retry]") {
    RetryHandlers handlers;
    JobSpec spec = job({flaky("f", 5, retry_policy(3, 1ms)), task("r", "echo", {}, {"f"}, "after"),
                        task("r", "echo", {}, {}, "other")});
    spec.abort_on_failure = false;
    const auto result = run(handlers.registry, spec, any_worker_count());

    CHECK(result.status == JobStatus::failed);
    CHECK_FALSE(result.error_message.has_value());
    const TaskRecord& f = result.at("f");
    CHECK(f.status == S::failed);
    CHECK(f.attempts == 3);
    CHECK(handlers.log.calls_of("f") == 3);
    CHECK(f.output == json{{"error", "fail 3"}});
    CHECK(history_statuses(f) ==
          std::vector<S>{S::pending, S::started, S::retrying, S::started, S::retrying, S::started, S::failed});
    CHECK(f.history.back().reason == "fail 3");
    CHECK(result.at("after").status == S::aborted);
    CHECK(result.at("after").output == json{{"error", "Aborted: dependency f failed"}});
    CHECK(result.at("after").attempts == 0);
    CHECK(result.at("other").status == S::succeeded);
}

TEST_CASE("NonRetryableError and Completion::fail_permanently fail a task after one attempt", "[retry]") {
    RetryHandlers handlers;
    JobSpec spec = job({task("r", "permanent", {}, {}, "sync"), task("r", "async", {{"permanent", true}}, {}, "async")});
    spec.task_defaults.retry = retry_policy(5, 1ms);
    spec.abort_on_failure = false;
    const auto result = run(handlers.registry, spec, any_worker_count());
    handlers.join();

    CHECK(result.status == JobStatus::failed);
    const TaskRecord& sync = result.at("sync");
    CHECK(sync.status == S::failed);
    CHECK(sync.attempts == 1);
    CHECK(handlers.log.calls_of("sync") == 1);
    CHECK(sync.output == json{{"error", "bad request"}});
    CHECK(history_statuses(sync) == std::vector<S>{S::pending, S::started, S::failed});
    const TaskRecord& async = result.at("async");
    CHECK(async.status == S::failed);
    CHECK(async.attempts == 1);
    CHECK(handlers.log.calls_of("async") == 1);
    CHECK(async.output == json{{"error", "gone for good"}});
    CHECK(history_statuses(async) == std::vector<S>{S::pending, S::started, S::failed});
}

TEST_CASE("Without jitter the delays are exact: delay, then growing by backoff, capped at maxDelay", "[retry]") {
    RetryHandlers handlers;
    JobSpec spec = job({flaky("f", 100, retry_policy(6, 10ms, 2.0, 50ms))});
    const auto result = run(handlers.registry, spec, any_worker_count());

    const TaskRecord& f = result.at("f");
    CHECK(f.status == S::failed);
    CHECK(f.attempts == 6);
    CHECK(handlers.log.calls_of("f") == 6);
    CHECK(retry_delays(f) == std::vector<long long>{10, 20, 40, 50, 50});
    CHECK(f.history[2].reason == "Attempt 1 of 6 failed: fail 1; next attempt in 10 ms");
    CHECK(f.history[10].reason == "Attempt 5 of 6 failed: fail 5; next attempt in 50 ms");
    // No attempt starts before its delay has passed since the failure before it.
    const auto gaps = retry_gaps_us(f);
    const auto delays = retry_delays(f);
    REQUIRE(gaps.size() == delays.size());
    for (std::size_t i = 0; i < gaps.size(); ++i) {
        INFO("retry " << i);
        CHECK(gaps[i] >= delays[i] * 1000);
    }
}

TEST_CASE("With jitter each delay is drawn from [0, computed delay], the same for the same seed", "[retry]") {
    const auto delays_with_seed = [](unsigned long long seed) {
        RetryHandlers handlers;
        JobSpec spec = job({flaky("f", 100, retry_policy(8, 20ms, 1.5, 60ms, /*jitter=*/true))});
        const auto result = Orchestrator(handlers.registry, {.workers = 2, .jitter_seed = seed}).run(spec);
        const TaskRecord& f = result.at("f");
        CHECK(f.status == S::failed);
        CHECK(f.attempts == 8);
        const auto gaps = retry_gaps_us(f);
        const auto delays = retry_delays(f);
        REQUIRE(gaps.size() == delays.size());
        for (std::size_t i = 0; i < gaps.size(); ++i) {
            INFO("retry " << i);
            CHECK(gaps[i] >= delays[i] * 1000);
        }
        return delays;
    };
    const auto delays = delays_with_seed(42);
    // Without jitter: 20, 30, 45, then 67.5 capped at 60.
    const std::vector<long long> computed{20, 30, 45, 60, 60, 60, 60};
    REQUIRE(delays.size() == computed.size());
    for (std::size_t i = 0; i < delays.size(); ++i) {
        INFO("retry " << i);
        CHECK(delays[i] >= 0);
        CHECK(delays[i] <= computed[i]);
    }
    CHECK(delays != computed);  // seven draws of this seed that all hit the top: jitter did nothing
    CHECK(delays_with_seed(42) == delays);
}

TEST_CASE("A task waiting for its retry holds no worker and no concurrency slot", "[retry][limits]") {
    RetryHandlers handlers;
    SECTION("one worker: another ready task runs while it waits") {
        JobSpec spec = job({flaky("a", 1, retry_policy(2, 100ms)), task("r", "echo", {}, {}, "b")});
        const auto result = run(handlers.registry, spec, 1);
        CHECK(result.status == JobStatus::succeeded);
        CHECK(handlers.log.order() == std::vector<std::string>{"a", "b", "a"});
        CHECK(*result.at("b").started_at < result.at("a").history.at(3).at);
    }
    SECTION("a limit of one: another task of the key runs while it waits") {
        JobSpec spec = job({flaky("a", 1, retry_policy(2, 100ms)), flaky("b", 0, std::nullopt)});
        spec.concurrency = {{"r/flaky", 1}};
        const auto result = run(handlers.registry, spec, GENERATE(as<std::size_t>{}, 1, 2, 4, 8));
        CHECK(result.status == JobStatus::succeeded);
        CHECK(handlers.log.order() == std::vector<std::string>{"a", "b", "a"});
        CHECK(handlers.log.peak("r/flaky") == 1);
    }
}

TEST_CASE("Only the attempt that succeeds adds children", "[retry][spawn]") {
    RetryHandlers handlers;
    TaskSpec spawner = task("r", "spawner", {}, {}, "p");
    spawner.retry = retry_policy(2, 1ms);
    const auto result = run(handlers.registry, job({spawner}), any_worker_count());

    CHECK(result.status == JobStatus::succeeded);
    CHECK(result.stats.total == 3);
    const TaskRecord& p = result.at("p");
    CHECK(p.attempts == 2);
    CHECK(p.output == json{{"attempt", 2}});
    CHECK(p.children == std::vector<std::string>{"p-0", "p-1"});
    CHECK(result.at("p-0").input == json{{"from", 2}});
    CHECK(result.at("p-1").input == json{{"from", 2}});
    CHECK(handlers.log.calls_of("p-0") == 1);
    CHECK(handlers.log.calls_of("p-1") == 1);
}

TEST_CASE("A stop with abortOnFailure aborts a task waiting for its retry at once, with the stop's reason",
          "[retry][failure]") {
    // Shared with the run's thread: should the run not return, it still has what it uses.
    auto handlers = std::make_shared<RetryHandlers>();
    auto signals = std::make_shared<Signals>();
    auto observer = std::make_shared<StatusSignals>(*signals);
    handlers->registry.add("r", "fatal", [signals](TaskContext&) -> json {
        if (!signals->wait("R retrying")) throw std::runtime_error("R never went retrying");
        throw std::runtime_error("fatal");
    });
    // R's next attempt would be due in a minute.
    const JobSpec spec = job({flaky("R", 100, retry_policy(3, 60000ms)), task("r", "fatal", {}, {}, "F")});
    const std::size_t workers = any_worker_count();
    auto result = std::make_shared<JobResult>();
    REQUIRE(returns_soon([=] { *result = run(handlers->registry, spec, workers, observer.get()); }));

    CHECK(result->status == JobStatus::failed);
    CHECK(result->at("F").status == S::failed);
    CHECK(result->at("F").output == json{{"error", "fatal"}});
    const TaskRecord& r = result->at("R");
    CHECK(r.status == S::aborted);
    CHECK(r.attempts == 1);
    CHECK(history_statuses(r) == std::vector<S>{S::pending, S::started, S::retrying, S::aborted});
    CHECK(r.history.back().reason == "Previous task failed and abortOnFailure is true");
    CHECK(r.output == json{{"error", "Previous task failed and abortOnFailure is true"}});
    CHECK_FALSE(r.next_attempt_at.has_value());
    CHECK(r.history.back().at >= result->at("F").history.back().at);
}

TEST_CASE("taskDefaults applies to roots and spawned children, and a task's own field wins", "[retry][spawn]") {
    RetryHandlers handlers;
    handlers.registry.add("r", "parent", [](TaskContext& ctx) {
        ctx.spawn(flaky("inherits", 2, std::nullopt));
        TaskSpec own = flaky("own", 2, retry_policy(2, 1ms));
        own.timeout = 60000ms;
        own.priority = -3;
        ctx.spawn(std::move(own));
        return json::object();
    });
    JobSpec spec = job({flaky("a", 2, std::nullopt), flaky("b", 2, retry_policy(1, 1ms)), task("r", "parent", {}, {}, "p")});
    spec.abort_on_failure = false;
    const RetryPolicy defaults = retry_policy(3, 1ms);
    spec.task_defaults = TaskDefaults{.timeout = 30000ms, .retry = defaults, .priority = 2};
    const auto result = run(handlers.registry, spec, any_worker_count());

    const TaskRecord& a = result.at("a");
    CHECK(a.status == S::succeeded);
    CHECK(a.attempts == 3);
    CHECK(a.retry == defaults);
    CHECK(a.timeout == 30000ms);
    CHECK(a.priority == 2);
    const TaskRecord& b = result.at("b");
    CHECK(b.status == S::failed);
    CHECK(b.attempts == 1);
    CHECK(b.retry == retry_policy(1, 1ms));
    CHECK(b.timeout == 30000ms);
    const TaskRecord& inherits = result.at("inherits");
    CHECK(inherits.parent_id == std::optional<std::string>("p"));
    CHECK(inherits.status == S::succeeded);
    CHECK(inherits.attempts == 3);
    CHECK(inherits.retry == defaults);
    CHECK(inherits.timeout == 30000ms);
    CHECK(inherits.priority == 2);
    const TaskRecord& own = result.at("own");
    CHECK(own.status == S::failed);
    CHECK(own.attempts == 2);
    CHECK(own.output == json{{"error", "fail 2"}});
    CHECK(own.retry == retry_policy(2, 1ms));
    CHECK(own.timeout == 60000ms);
    CHECK(own.priority == -3);
    for (const auto& record : result.tasks) {
        INFO(record.id);
        CHECK(record.attempts == handlers.log.calls_of(record.id) + (record.id == "p" ? 1 : 0));
    }
}

TEST_CASE("Asynchronous handlers are retried like synchronous ones", "[retry][async]") {
    RetryHandlers handlers;
    TaskSpec a = task("r", "async", {{"failures", 2}}, {}, "a");
    a.retry = retry_policy(3, 2ms);
    TaskSpec b = task("r", "async", {{"failures", 9}}, {}, "b");
    b.retry = retry_policy(2, 2ms);
    JobSpec spec = job({a, b});
    spec.abort_on_failure = false;
    const auto result = run(handlers.registry, spec, any_worker_count());
    handlers.join();

    const TaskRecord& ra = result.at("a");
    CHECK(ra.status == S::succeeded);
    CHECK(ra.attempts == 3);
    CHECK(handlers.log.calls_of("a") == 3);
    CHECK(ra.output == json{{"attempt", 3}});
    CHECK(history_statuses(ra) ==
          std::vector<S>{S::pending, S::started, S::retrying, S::started, S::retrying, S::started, S::succeeded});
    CHECK(ra.history[2].reason == "Attempt 1 of 3 failed: fail 1; next attempt in 2 ms");
    const TaskRecord& rb = result.at("b");
    CHECK(rb.status == S::failed);
    CHECK(rb.attempts == 2);
    CHECK(handlers.log.calls_of("b") == 2);
    CHECK(rb.output == json{{"error", "fail 2"}});
    CHECK(handlers.log.overlapping_tasks().empty());
}

TEST_CASE("attempts counts handler calls, and each call is told its attempt number", "[retry]") {
    RetryHandlers handlers;
    std::vector<TaskSpec> tasks;
    for (int i = 0; i < 24; ++i) {
        TaskSpec t = i % 2 ? task("r", "async", {{"failures", i % 4}}) : flaky(std::to_string(i), i % 4, std::nullopt);
        t.id = std::to_string(i);
        t.retry = retry_policy(3, std::chrono::milliseconds(i % 3));
        tasks.push_back(std::move(t));
    }
    JobSpec spec = job(std::move(tasks));
    spec.abort_on_failure = false;
    const auto result = run(handlers.registry, spec, any_worker_count());
    handlers.join();

    for (const auto& record : result.tasks) {
        INFO(record.id);
        const int failures = std::stoi(record.id) % 4;
        CHECK(record.attempts == std::min(failures + 1, 3));
        CHECK(record.status == (failures < 3 ? S::succeeded : S::failed));
        CHECK(started_entries(record) == record.attempts);
        std::vector<int> attempts_seen;
        for (const auto& call : handlers.log.calls()) {
            if (call.task == record.id) attempts_seen.push_back(call.attempt);
        }
        std::vector<int> expected(static_cast<std::size_t>(record.attempts));
        std::iota(expected.begin(), expected.end(), 1);
        CHECK(attempts_seen == expected);
    }
    CHECK(handlers.log.overlapping_tasks().empty());
}

TEST_CASE("A stop aborts a task whose retry fell due but found no free worker", "[retry][failure]") {
    RetryHandlers handlers;
    Signals signals;
    StatusSignals observer(signals);
    // On the one worker: R fails and its retry falls due at once, while F holds the worker.
    handlers.registry.add("r", "hold", [&signals](TaskContext& ctx) -> json {
        signals.wait("R retrying");
        std::this_thread::sleep_for(50ms);  // time for the due retry to become ready
        if (ctx.input().value("fail", false)) throw std::runtime_error("fatal");
        while (!ctx.stop_requested()) std::this_thread::sleep_for(1ms);
        throw StopRequested();
    });
    TaskSpec r = flaky("R", 1, retry_policy(2, 0ms));
    r.priority = 10;
    SECTION("abortOnFailure") {
        const auto result = run(handlers.registry, job({r, task("r", "hold", {{"fail", true}}, {}, "F")}), 1, &observer);
        CHECK(result.status == JobStatus::failed);
        CHECK(result.at("F").status == S::failed);
        CHECK(result.at("R").status == S::aborted);
        CHECK(history_statuses(result.at("R")) == std::vector<S>{S::pending, S::started, S::retrying, S::aborted});
        CHECK(result.at("R").history.back().reason == "Previous task failed and abortOnFailure is true");
        CHECK(result.stats.retrying == 0);
    }
    SECTION("cancel") {
        RunControl control;
        std::thread canceller([&signals, control]() mutable {
            signals.wait("F started");
            std::this_thread::sleep_for(100ms);  // after F's wait: R's retry is due and ready
            control.cancel("operator");
        });
        const auto result = Orchestrator(handlers.registry, {.workers = 1})
                                .run(job({r, task("r", "hold", {}, {}, "F")}), &observer, &control);
        canceller.join();
        CHECK(result.status == JobStatus::cancelled);
        CHECK(result.at("R").status == S::aborted);
        CHECK(result.at("R").history.back().reason == "Job cancelled: operator");
        CHECK(result.stats.retrying == 0);
    }
}
