// OrchestratorOptions::quick_batch: a worker claims several quick synchronous tasks under one
// lock and records them under the next. Nothing of that may show in the result: every task keeps
// the times it really ran, its attempt count, and the outcome the job would have without claims.
#include "helpers.hpp"

#include <mutex>
#include <vector>

using namespace jobgraph;
using namespace jobgraph::testing;

namespace {

JobSpec independent_tasks(int count, const std::string& command) {
    std::vector<TaskSpec> tasks;
    for (int i = 0; i < count; ++i) tasks.push_back(task("q", command, {{"i", i}}));
    return job(std::move(tasks));
}

// What a handler saw of each call: when it ran and the attempt number it was given.
struct Seen {
    std::mutex mutex;
    std::vector<Timestamp> called_at = std::vector<Timestamp>(100);
    std::vector<int> attempt = std::vector<int>(100, 0);
    int calls = 0;

    void note(const TaskContext& ctx) {
        const auto i = ctx.input().at("i").get<std::size_t>();
        std::lock_guard lock(mutex);
        called_at.at(i) = now_utc();
        attempt.at(i) = ctx.attempt();
        ++calls;
    }
};

}  // namespace

TEST_CASE("Tasks claimed together keep the times their handlers really ran", "[quick_batch]") {
    Seen seen;
    HandlerRegistry registry;
    registry.add("q", "work", [&seen](TaskContext& ctx) {
        seen.note(ctx);
        return json{{"i", ctx.input().at("i")}};
    });
    const std::size_t workers = any_worker_count();
    const auto result =
        Orchestrator(registry, {.workers = workers, .quick_batch = 8}).run(independent_tasks(60, "work"));

    REQUIRE(result.status == JobStatus::succeeded);
    REQUIRE(seen.calls == 60);
    for (const TaskRecord& record : result.tasks) {
        INFO("task " << record.id);
        const auto i = record.input.at("i").get<std::size_t>();
        REQUIRE(history_statuses(record) ==
                std::vector<TaskStatus>{TaskStatus::pending, TaskStatus::started, TaskStatus::succeeded});
        REQUIRE(record.started_at == record.history[1].at);
        REQUIRE(record.completed_at == record.history[2].at);
        // Started before the handler was called, ended after it: not the times of the lock holds.
        CHECK(record.history[0].at <= *record.started_at);
        CHECK(*record.started_at <= seen.called_at[i]);
        CHECK(seen.called_at[i] <= *record.completed_at);
        CHECK(record.attempts == 1);
        CHECK(seen.attempt[i] == 1);
    }
    // One worker runs one handler at a time: its tasks' spans do not overlap.
    if (workers == 1) {
        for (std::size_t k = 1; k < result.tasks.size(); ++k) {
            INFO("tasks " << result.tasks[k - 1].id << " and " << result.tasks[k].id);
            CHECK(*result.tasks[k - 1].completed_at <= *result.tasks[k].started_at);
        }
    }
}

TEST_CASE("A failure ends its claim: the tasks claimed after it never run", "[quick_batch]") {
    const bool abort_on_failure = GENERATE(true, false);
    // One worker claims task 0 alone (its handler is not known to be quick yet), then 1-8:
    // task 5 fails inside that claim. A slow call ends a claim too, and the first throws of a
    // process can be slow (the unwinder loads its tables): the job runs three times.
    for (int round = 1; round <= 3; ++round) {
        INFO("round " << round);
        Seen seen;
        HandlerRegistry registry;
        registry.add("q", "work", [&seen](TaskContext& ctx) -> json {
            seen.note(ctx);
            if (ctx.input().at("i") == 5) throw std::runtime_error("task five broke");
            return json::object();
        });
        JobSpec spec = independent_tasks(20, "work");
        spec.abort_on_failure = abort_on_failure;
        const auto result = Orchestrator(registry, {.workers = 1, .quick_batch = 8}).run(spec);

        REQUIRE(result.status == JobStatus::failed);
        CHECK(result.at("5").status == TaskStatus::failed);
        CHECK(result.at("5").history.back().reason == "task five broke");
        for (int i = 0; i < 5; ++i) CHECK(result.at(std::to_string(i)).status == TaskStatus::succeeded);
        if (abort_on_failure) {
            // As without claims: nothing starts after the first failure.
            CHECK(seen.calls == 6);
            for (int i = 6; i < 20; ++i) {
                const TaskRecord& record = result.at(std::to_string(i));
                INFO("task " << record.id);
                CHECK(record.status == TaskStatus::aborted);
                CHECK(record.attempts == 0);
                CHECK(history_statuses(record) == std::vector<TaskStatus>{TaskStatus::pending, TaskStatus::aborted});
                CHECK(record.history.back().reason == "Previous task failed and abortOnFailure is true");
            }
        } else {
            // Tasks 6-8 went back unrun and were claimed again: each still ran once, as attempt 1.
            CHECK(seen.calls == 20);
            for (int i = 6; i < 20; ++i) {
                const TaskRecord& record = result.at(std::to_string(i));
                INFO("task " << record.id);
                CHECK(record.status == TaskStatus::succeeded);
                CHECK(record.attempts == 1);
                CHECK(seen.attempt[static_cast<std::size_t>(i)] == 1);
            }
        }
    }
}

TEST_CASE("Tasks claimed when the job times out end aborted, never started", "[quick_batch]") {
    Seen seen;
    HandlerRegistry registry;
    // Quick, except task 10, which runs until the job asks it to stop.
    registry.add("q", "work", [&seen](TaskContext& ctx) {
        seen.note(ctx);
        while (ctx.input().at("i") == 10) {
            ctx.throw_if_stop_requested();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return json::object();
    });
    JobSpec spec = independent_tasks(30, "work");
    spec.limits.timeout = std::chrono::milliseconds(200);
    // One worker: task 0 alone, then 1-8, then 9-16 with task 10 among them.
    const auto result = Orchestrator(registry, {.workers = 1, .quick_batch = 8}).run(spec);

    REQUIRE(result.status == JobStatus::failed);
    REQUIRE(result.error_message.has_value());
    CHECK(result.error_message->starts_with("Job execution timeout: 200ms limit exceeded."));
    for (int i = 0; i < 10; ++i) CHECK(result.at(std::to_string(i)).status == TaskStatus::succeeded);
    CHECK(result.at("10").status == TaskStatus::aborted);
    CHECK(result.at("10").attempts == 1);
    CHECK(seen.calls == 11);
    // 11-16 were claimed with task 10, 17-29 never were: all end alike.
    for (int i = 11; i < 30; ++i) {
        const TaskRecord& record = result.at(std::to_string(i));
        INFO("task " << record.id);
        CHECK(record.status == TaskStatus::aborted);
        CHECK(record.attempts == 0);
        CHECK_FALSE(record.started_at.has_value());
        CHECK(history_statuses(record) == std::vector<TaskStatus>{TaskStatus::pending, TaskStatus::aborted});
        CHECK(record.history.back().reason == "Job execution timeout: 200ms limit exceeded");
    }
}

TEST_CASE("A slow handler is not claimed with quick tasks, nor they behind it", "[quick_batch]") {
    HandlerRegistry registry;
    registry.add("q", "work", [](TaskContext& ctx) { return json{{"i", ctx.input().at("i")}}; });
    registry.add("q", "slow", [](TaskContext&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        return json::object();
    });
    JobSpec spec = independent_tasks(200, "work");
    spec.tasks[100].command = "slow";
    const auto result = Orchestrator(registry, {.workers = 2, .quick_batch = 8}).run(spec);

    REQUIRE(result.status == JobStatus::succeeded);
    // While one worker sleeps in the slow task, the other runs every quick one: none waits for it.
    const TaskRecord& slow = result.at("100");
    for (const TaskRecord& record : result.tasks) {
        if (record.id == "100") continue;
        INFO("task " << record.id);
        CHECK(*record.completed_at < *slow.completed_at);
    }
}

TEST_CASE("quick_batch 1 runs one task per lock hold, with the same outcome", "[quick_batch]") {
    Seen seen;
    HandlerRegistry registry;
    registry.add("q", "work", [&seen](TaskContext& ctx) {
        seen.note(ctx);
        return json{{"i", ctx.input().at("i")}};
    });
    const auto result = Orchestrator(registry, {.workers = 1, .quick_batch = 1}).run(independent_tasks(20, "work"));
    REQUIRE(result.status == JobStatus::succeeded);
    CHECK(seen.calls == 20);
    std::vector<std::string> expected;
    for (int i = 0; i < 20; ++i) expected.push_back(std::to_string(i));
    CHECK(ids_of(result) == expected);
}
