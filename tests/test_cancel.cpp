// Section 13: a running job stopped from outside through RunControl. A cancel is final; an
// interrupt leaves the job resumable. An asynchronous task that ignores the stop is given up on
// after the grace period, so a stopping run never hangs on it.
#include "run_probes.hpp"
#include "temp_database.hpp"

#include <fmt/format.h>

#include <mutex>
#include <thread>

using namespace jobgraph;
using namespace jobgraph::testing;
using namespace std::chrono_literals;

namespace {

using S = TaskStatus;

// Handlers of the stop tests, every call noted in `log`:
//  c/wait:   raises "<id> running", then waits (ten seconds at most) for its stop token and gives
//            up; once `release` is set it returns {"attempt": <attempt>} at once
//  c/quick:  returns {"ok": true}
//  c/flaky:  fails its first attempt
//  c/ignore: asynchronous; raises "<id> running" and keeps its completion without fulfilling it
struct StopHandlers {
    CallLog log;
    Signals signals;
    StatusSignals observer{signals};
    std::mutex mutex;
    std::vector<Completion> kept;
    std::atomic<bool> release{false};
    HandlerRegistry registry;

    StopHandlers() {
        registry.add("c", "wait", [this](TaskContext& ctx) {
            const auto call = log.scope(ctx);
            if (release) return json{{"attempt", ctx.attempt()}};
            signals.raise(ctx.id() + " running");
            const auto until = std::chrono::steady_clock::now() + 10s;
            while (std::chrono::steady_clock::now() < until) {
                ctx.throw_if_stop_requested();
                std::this_thread::sleep_for(1ms);
            }
            return json{{"done", true}};
        });
        registry.add("c", "quick", [this](TaskContext& ctx) {
            const auto call = log.scope(ctx);
            return json{{"ok", true}};
        });
        registry.add("c", "flaky", [this](TaskContext& ctx) {
            const auto call = log.scope(ctx);
            if (ctx.attempt() == 1) throw std::runtime_error("fail 1");
            return json{{"attempt", ctx.attempt()}};
        });
        registry.add_async("c", "ignore", [this](TaskContext& ctx, Completion done) {
            log.enter(ctx);
            const std::lock_guard lock(mutex);
            kept.push_back(std::move(done));
            signals.raise(ctx.id() + " running");
        });
    }
};

// f fails at once and waits a long while for its retry; q succeeds; w0..w3 run until stopped;
// "after" waits for them. f and q go first, then w0.
JobSpec stoppable_job(std::chrono::milliseconds retry_delay) {
    TaskSpec f = task("c", "flaky", {}, {}, "f");
    f.retry = retry_policy(2, retry_delay);
    f.priority = 10;
    TaskSpec q = task("c", "quick", {}, {}, "q");
    q.priority = 9;
    std::vector<TaskSpec> tasks{f, q};
    std::vector<std::string> waits;
    for (int i = 0; i < 4; ++i) {
        waits.push_back(fmt::format("w{}", i));
        tasks.push_back(task("c", "wait", {}, {}, waits.back()));
    }
    tasks.push_back(task("c", "quick", {}, waits, "after"));
    return job(std::move(tasks));
}

// Waits until f waits for its retry, q succeeded and w0 runs: the moment the stop tests stop at.
bool wait_until_under_way(Signals& signals) {
    return signals.wait("f retrying") && signals.wait("q succeeded") && signals.wait("w0 running");
}

// q, then w0..w3 that run until stopped, and "after" that waits for them: a job for a store.
JobSpec stored_job() {
    std::vector<TaskSpec> tasks{task("c", "quick", {}, {}, "q")};
    std::vector<std::string> waits;
    for (int i = 0; i < 4; ++i) {
        waits.push_back(fmt::format("w{}", i));
        tasks.push_back(task("c", "wait", {}, {}, waits.back()));
    }
    tasks.push_back(task("c", "quick", {}, waits, "after"));
    return job(std::move(tasks));
}

std::vector<Timestamp> starts_of(const JobResult& result) {
    std::vector<Timestamp> starts;
    for (const auto& record : result.tasks) {
        for (const auto& entry : record.history) {
            if (entry.status == S::started) starts.push_back(entry.at);
        }
    }
    return starts;
}

}  // namespace

TEST_CASE("A cancel from another thread aborts every unfinished task with its reason and starts nothing more",
          "[cancel]") {
    StopHandlers handlers;
    const JobSpec spec = stoppable_job(60000ms);
    RunControl control;
    bool under_way = false;
    bool accepted = false;
    Timestamp cancelled_by{};
    std::thread canceller([&, control]() mutable {
        under_way = wait_until_under_way(handlers.signals);
        accepted = control.cancel("operator");
        cancelled_by = now_utc();
    });
    const auto result =
        Orchestrator(handlers.registry, {.workers = any_worker_count()}).run(spec, &handlers.observer, &control);
    canceller.join();

    REQUIRE(under_way);
    CHECK(accepted);
    CHECK(result.status == JobStatus::cancelled);
    CHECK(result.error_message == std::optional<std::string>("Job cancelled: operator"));
    CHECK(result.history.back().status == JobStatus::cancelled);
    CHECK(result.history.back().reason == "Job cancelled: operator");
    CHECK(result.at("q").status == S::succeeded);
    for (const auto& record : result.tasks) {
        if (record.id == "q") continue;
        INFO(record.id);
        CHECK(record.status == S::aborted);
        CHECK(record.output == json{{"error", "Job cancelled: operator"}});
        CHECK(record.history.back().reason == "Job cancelled: operator");
        CHECK(record.attempts == handlers.log.calls_of(record.id));
    }
    CHECK(history_statuses(result.at("f")) == std::vector<S>{S::pending, S::started, S::retrying, S::aborted});
    CHECK(history_statuses(result.at("w0")) == std::vector<S>{S::pending, S::started, S::aborted});
    CHECK(history_statuses(result.at("after")) == std::vector<S>{S::pending, S::aborted});
    for (const Timestamp start : starts_of(result)) CHECK(start <= cancelled_by);
    CHECK(result.stats.aborted == result.stats.total - 1);
}

TEST_CASE("A cancel before the run starts runs nothing", "[cancel]") {
    StopHandlers handlers;
    RunControl control;
    CHECK(control.cancel("early"));
    CHECK_FALSE(control.cancel("again"));
    CHECK_FALSE(control.interrupt());
    REQUIRE(control.request().has_value());
    CHECK(control.request()->kind == StopRequest::Kind::cancel);
    CHECK(control.request()->reason == "early");
    const auto result =
        Orchestrator(handlers.registry, {.workers = any_worker_count()}).run(stoppable_job(1ms), nullptr, &control);

    CHECK(result.status == JobStatus::cancelled);
    CHECK(result.error_message == std::optional<std::string>("Job cancelled: early"));
    CHECK(handlers.log.calls().empty());
    REQUIRE(result.tasks.size() == 7);
    for (const auto& record : result.tasks) {
        INFO(record.id);
        CHECK(record.status == S::aborted);
        CHECK(record.attempts == 0);
        CHECK(record.output == json{{"error", "Job cancelled: early"}});
        CHECK(history_statuses(record) == std::vector<S>{S::pending, S::aborted});
    }
}

TEST_CASE("An interrupt leaves unfinished tasks as they were, running ones back to pending", "[cancel][interrupt]") {
    StopHandlers handlers;
    const JobSpec spec = stoppable_job(60000ms);
    RunControl control;
    bool under_way = false;
    bool accepted = false;
    std::thread interrupter([&, control]() mutable {
        under_way = wait_until_under_way(handlers.signals);
        accepted = control.interrupt();
    });
    const auto result =
        Orchestrator(handlers.registry, {.workers = any_worker_count()}).run(spec, &handlers.observer, &control);
    interrupter.join();

    REQUIRE(under_way);
    CHECK(accepted);
    CHECK(result.status == JobStatus::interrupted);
    CHECK(result.error_message == std::optional<std::string>("Job interrupted: resume it to run the rest"));
    CHECK(result.at("q").status == S::succeeded);
    const TaskRecord& f = result.at("f");
    CHECK(f.status == S::retrying);
    CHECK(history_statuses(f) == std::vector<S>{S::pending, S::started, S::retrying});
    REQUIRE(f.next_attempt_at.has_value());
    CHECK(*f.next_attempt_at == f.history.back().at + 60000ms);
    CHECK(result.at("w0").attempts == 1);
    for (const auto& id : {"w0", "w1", "w2", "w3"}) {
        INFO(id);
        const TaskRecord& w = result.at(id);
        CHECK(w.status == S::pending);
        CHECK(w.attempts == handlers.log.calls_of(id));
        CHECK(w.output.is_null());
        if (w.attempts == 1) {
            CHECK(history_statuses(w) == std::vector<S>{S::pending, S::started, S::pending});
            CHECK(w.history.back().reason == "Interrupted");
        } else {
            CHECK(w.attempts == 0);
            CHECK(history_statuses(w) == std::vector<S>{S::pending});
        }
    }
    CHECK(history_statuses(result.at("after")) == std::vector<S>{S::pending});
    CHECK(result.stats.retrying == 1);
    CHECK(result.stats.pending == 5);
}

TEST_CASE("A stored job interrupted mid-run resumes to the end, its attempts counting on",
          "[cancel][interrupt][persistence]") {
    StopHandlers handlers;
    TempDatabase db("jobgraph-cancel");
    SqliteStore store(db.path);
    const std::string id = store.create_job(stored_job());
    const std::size_t workers = any_worker_count();
    RunControl control;
    bool under_way = false;
    std::thread interrupter([&, control]() mutable {
        under_way = handlers.signals.wait("w0 running");
        control.interrupt();
    });
    const auto interrupted = Orchestrator(handlers.registry, {.workers = workers}).resume(id, store, nullptr, &control);
    interrupter.join();
    REQUIRE(under_way);
    REQUIRE(interrupted.status == JobStatus::interrupted);
    const auto stored = SqliteStore(db.path).load(id);
    REQUIRE(stored.has_value());
    CHECK(stored->result == std::optional<JobResult>(interrupted));
    REQUIRE(stored->tasks.size() == 6);
    const TaskRecord& stored_w0 = stored->tasks.at(1);
    CHECK(stored_w0.status == S::pending);
    CHECK(stored_w0.attempts == 1);
    CHECK(stored_w0.history.back().reason == "Interrupted");
    CHECK(stored->tasks.at(5).status == S::pending);  // after
    CHECK(stored->tasks.at(5).attempts == 0);

    handlers.release = true;  // the waiting tasks now return at once
    SqliteStore reopened(db.path);
    const auto resumed = Orchestrator(handlers.registry, {.workers = workers}).resume(id, reopened);
    CHECK(resumed.status == JobStatus::succeeded);
    CHECK(resumed.stats.succeeded == 6);
    for (const auto& record : resumed.tasks) {
        INFO(record.id);
        CHECK(record.attempts - uncalled_starts(record) == handlers.log.calls_of(record.id));
        CHECK(started_entries(record) == record.attempts);
    }
    CHECK(resumed.at("q").attempts == 1);  // finished: not run again
    const TaskRecord& w0 = resumed.at("w0");
    CHECK(w0.attempts == 2);
    CHECK(w0.output == json{{"attempt", 2}});
    CHECK(history_statuses(w0) == std::vector<S>{S::pending, S::started, S::pending, S::started, S::succeeded});
    CHECK(resumed.at("after").attempts == 1);
    CHECK(SqliteStore(db.path).load(id)->result == std::optional<JobResult>(resumed));
}

TEST_CASE("A stored job interrupted while a task waits for its retry keeps the due time on resume",
          "[cancel][interrupt][persistence][retry]") {
    StopHandlers handlers;
    TempDatabase db("jobgraph-cancel");
    SqliteStore store(db.path);
    // The retry falls due soon after the interrupt: the resumed run waits for that due time.
    TaskSpec f = task("c", "flaky", {}, {}, "f");
    f.retry = retry_policy(2, 1500ms);
    const std::string id = store.create_job(job({f, task("c", "wait", {}, {}, "w0")}));
    const std::size_t workers = GENERATE(as<std::size_t>{}, 1, 2);
    RunControl control;
    bool under_way = false;
    std::thread interrupter([&, control]() mutable {
        under_way = handlers.signals.wait("f retrying") && handlers.signals.wait("w0 running");
        control.interrupt();
    });
    const auto interrupted =
        Orchestrator(handlers.registry, {.workers = workers}).resume(id, store, &handlers.observer, &control);
    interrupter.join();
    REQUIRE(under_way);
    REQUIRE(interrupted.status == JobStatus::interrupted);
    const auto stored = SqliteStore(db.path).load(id);
    REQUIRE(stored.has_value());
    const TaskRecord& stored_f = stored->tasks.at(0);
    CHECK(stored_f.status == S::retrying);
    REQUIRE(stored_f.next_attempt_at.has_value());
    CHECK(stored_f.next_attempt_at == interrupted.at("f").next_attempt_at);

    handlers.release = true;
    SqliteStore reopened(db.path);
    const auto resumed = Orchestrator(handlers.registry, {.workers = workers}).resume(id, reopened);
    CHECK(resumed.status == JobStatus::succeeded);
    const TaskRecord& rf = resumed.at("f");
    CHECK(rf.attempts == 2);
    CHECK(handlers.log.calls_of("f") == 2);
    REQUIRE(history_statuses(rf) == std::vector<S>{S::pending, S::started, S::retrying, S::started, S::succeeded});
    CHECK(rf.history[3].at >= *stored_f.next_attempt_at);
}

TEST_CASE("A cancelled stored job stays cancelled: resuming it returns its result and runs nothing",
          "[cancel][persistence]") {
    StopHandlers handlers;
    TempDatabase db("jobgraph-cancel");
    SqliteStore store(db.path);
    const std::string id = store.create_job(stored_job());
    const Orchestrator orchestrator(handlers.registry, {.workers = any_worker_count()});
    RunControl control;
    bool under_way = false;
    std::thread canceller([&, control]() mutable {
        under_way = handlers.signals.wait("w0 running");
        control.cancel("operator");
    });
    const auto cancelled = orchestrator.resume(id, store, nullptr, &control);
    canceller.join();
    REQUIRE(under_way);
    CHECK(cancelled.status == JobStatus::cancelled);
    const std::size_t calls = handlers.log.calls().size();

    SqliteStore reopened(db.path);
    CHECK(reopened.load(id)->result == std::optional<JobResult>(cancelled));
    const auto again = orchestrator.resume(id, reopened);
    CHECK(again == cancelled);
    CHECK(handlers.log.calls().size() == calls);
}

TEST_CASE("An asynchronous task that ignores a stop is aborted after the grace period, its late completion ignored",
          "[cancel][async]") {
    // Shared with the run's thread: should the run not return, it still has what it uses.
    auto handlers = std::make_shared<StopHandlers>();
    auto result = std::make_shared<JobResult>();
    const OrchestratorOptions options{.workers = any_worker_count(), .grace_period = 50ms};
    const auto run_in_time = [&](const JobSpec& spec, RunControl control) {
        return returns_soon([=]() mutable {
            *result = Orchestrator(handlers->registry, options).run(spec, &handlers->observer, &control);
        });
    };
    std::string expected_error;
    JobStatus expected_status = JobStatus::failed;
    RunControl control;
    SECTION("cancel") {
        std::thread canceller([handlers, control]() mutable {
            handlers->signals.wait("a running");
            control.cancel("bye");
        });
        REQUIRE(run_in_time(job({task("c", "ignore", {}, {}, "a")}), control));
        canceller.join();
        expected_status = JobStatus::cancelled;
        expected_error = "Job cancelled: bye";
    }
    SECTION("interrupt") {
        std::thread interrupter([handlers, control]() mutable {
            handlers->signals.wait("a running");
            control.interrupt();
        });
        REQUIRE(run_in_time(job({task("c", "ignore", {}, {}, "a")}), control));
        interrupter.join();
        expected_status = JobStatus::interrupted;
        expected_error = "Job interrupted: resume it to run the rest";
    }
    SECTION("job timeout") {
        JobSpec spec = job({task("c", "ignore", {}, {}, "a")});
        spec.limits.timeout = 50ms;
        REQUIRE(run_in_time(spec, control));
        expected_error = "Job execution timeout: 50ms limit exceeded.";
    }
    SECTION("abortOnFailure") {
        // The failure comes once "a" runs.
        handlers->registry.add("c", "fail-after-a", [signals = &handlers->signals](TaskContext&) -> json {
            signals->wait("a running");
            throw std::runtime_error("fatal");
        });
        REQUIRE(run_in_time(job({task("c", "ignore", {}, {}, "a"), task("c", "fail-after-a")}), control));
    }
    CHECK(result->status == expected_status);
    CHECK_THAT(result->error_message.value_or(""), Catch::StartsWith(expected_error));
    const TaskRecord& a = result->at("a");
    CHECK(a.status == S::aborted);
    CHECK(a.attempts == 1);
    CHECK(a.output == json{{"error", "Did not stop within 50 ms"}});
    CHECK(history_statuses(a) == std::vector<S>{S::pending, S::started, S::aborted});
    CHECK(a.history.back().reason == "Did not stop within 50 ms");
    // A completion after the run is taken in and changes nothing.
    const std::lock_guard lock(handlers->mutex);
    REQUIRE(handlers->kept.size() == 1);
    handlers->kept.front().succeed(json{{"late", true}});
}

TEST_CASE("With a store, no handler is called after a stop, though its worker had several tasks started for it",
          "[cancel][interrupt][persistence]") {
    // With a store a worker takes several ready tasks at once, so that their starts share one
    // commit. Those whose handlers it has not called yet must not be called once the job stops:
    // these handlers ignore their stop token and would run to the end.
    StopHandlers handlers;
    handlers.registry.add("c", "stubborn", [&handlers](TaskContext& ctx) {
        const auto call = handlers.log.scope(ctx);
        std::this_thread::sleep_for(30ms);
        return json{{"done", true}};
    });
    TempDatabase db("jobgraph-cancel");
    SqliteStore store(db.path);
    const std::string id = store.create_job(job(std::vector<TaskSpec>(6, task("c", "stubborn"))));
    RunControl control;
    const bool cancel = GENERATE(true, false);
    INFO((cancel ? "cancel" : "interrupt"));
    bool under_way = false;
    std::uint64_t stopped_at = 0;
    std::thread stopper([&, control]() mutable {
        under_way = handlers.log.wait_for_calls(1);
        stopped_at = handlers.log.tick();
        if (cancel) {
            control.cancel("operator");
        } else {
            control.interrupt();
        }
    });
    const auto result = Orchestrator(handlers.registry, {.workers = 1}).resume(id, store, nullptr, &control);
    stopper.join();
    REQUIRE(under_way);

    CHECK(result.status == (cancel ? JobStatus::cancelled : JobStatus::interrupted));
    std::vector<std::string> called_after_stop;
    for (const auto& call : handlers.log.calls()) {
        if (call.began > stopped_at) called_after_stop.push_back(call.task);
    }
    CHECK(called_after_stop.empty());
    CHECK(result.at("0").status == S::succeeded);  // it was running, and kept its result
    for (const auto& record : result.tasks) {
        INFO(record.id);
        CHECK(record.attempts == 1);
        if (record.id == "0") continue;
        // Started under the first task's commit, withdrawn by the stop: an attempt, not a call.
        CHECK(handlers.log.calls_of(record.id) == 0);
        CHECK(record.status == (cancel ? S::aborted : S::pending));
        CHECK(record.history.back().reason ==
              (cancel ? "Job cancelled: operator" : "Interrupted before its handler was called"));
    }
}

TEST_CASE("After an interrupt, a running task that still succeeds starts none of its dependents",
          "[cancel][interrupt]") {
    StopHandlers handlers;
    std::mutex mutex;
    std::vector<std::thread> threads;
    // Both ignore the stop: they finish once the test says the interrupt was made.
    handlers.registry.add("c", "sync-finisher", [&handlers](TaskContext& ctx) {
        const auto call = handlers.log.scope(ctx);
        handlers.signals.raise(ctx.id() + " running");
        handlers.signals.wait("interrupted");
        return json{{"finished", true}};
    });
    handlers.registry.add_async("c", "async-finisher", [&](TaskContext& ctx, Completion done) {
        const std::size_t call = handlers.log.enter(ctx);
        handlers.signals.raise(ctx.id() + " running");
        const std::lock_guard lock(mutex);
        threads.emplace_back([&handlers, call, done = std::move(done)] {
            handlers.signals.wait("interrupted");
            handlers.log.leave(call);
            done.succeed(json{{"finished", true}});
        });
    });
    const std::string command = GENERATE(as<std::string>{}, "sync-finisher", "async-finisher");
    INFO(command);
    RunControl control;
    std::thread interrupter([&handlers, control]() mutable {
        handlers.signals.wait("A running");
        control.interrupt();
        handlers.signals.raise("interrupted");
    });
    const auto result = Orchestrator(handlers.registry, {.workers = 1})
                            .run(job({task("c", command, {}, {}, "A"), task("c", "quick", {}, {"A"}, "D")}), nullptr,
                                 &control);
    interrupter.join();
    for (auto& thread : threads) thread.join();

    CHECK(result.status == JobStatus::interrupted);
    CHECK(result.at("A").status == S::succeeded);  // it returned a result: it keeps it
    CHECK(result.at("D").status == S::pending);
    CHECK(result.at("D").attempts == 0);
    CHECK(history_statuses(result.at("D")) == std::vector<S>{S::pending});
    CHECK(handlers.log.calls_of("D") == 0);
}
