// Section 5: no waves. A ready task starts at once, whatever else is still running.
#include "helpers.hpp"

#include <mutex>

using namespace jobgraph;
using namespace jobgraph::testing;

TEST_CASE("A slow task never holds back a task that does not depend on it", "[scheduling]") {
    std::mutex mutex;
    std::vector<std::string> log;
    HandlerRegistry registry;
    registry.add("s", "step", [&](TaskContext& ctx) {
        const int ms = ctx.input().value("ms", 0);
        if (ms == 0) {  // a quick task: note that the slow one is still running
            std::lock_guard lock(mutex);
            log.push_back(ctx.id());
        }
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (std::chrono::steady_clock::now() < until && !ctx.stop_requested()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (ms > 0) {
            std::lock_guard lock(mutex);
            log.push_back("slow done");
        }
        return json::object();
    });
    // A wave scheduler would run "b1" only after "slow", which is in the same first wave as "a1".
    JobSpec spec = job({task("s", "step", {{"ms", 300}}, {}, "slow"), task("s", "step", {}, {}, "a1"),
                        task("s", "step", {}, {"a1"}, "b1"), task("s", "step", {}, {"b1"}, "c1")});
    const std::size_t workers = GENERATE(as<std::size_t>{}, 2, 4, 8);
    const auto result = run(registry, spec, workers);
    CHECK(result.status == JobStatus::succeeded);
    CHECK(log == std::vector<std::string>{"a1", "b1", "c1", "slow done"});
}

TEST_CASE("Ready tasks run in parallel on the workers", "[scheduling]") {
    std::atomic<int> running{0};
    std::atomic<int> peak{0};
    HandlerRegistry registry;
    registry.add("s", "busy", [&](TaskContext&) {
        const int now = ++running;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        --running;
        return json::object();
    });
    std::vector<TaskSpec> tasks(8, task("s", "busy"));
    const std::size_t workers = GENERATE(as<std::size_t>{}, 1, 2, 4, 8);
    const auto result = run(registry, job(tasks), workers);
    CHECK(result.stats.succeeded == 8);
    CHECK(peak.load() <= static_cast<int>(workers));
    if (workers > 1) CHECK(peak.load() >= 2);
}

TEST_CASE("Large chains and fan-outs finish with every task succeeded", "[scheduling]") {
    const auto registry = basic_registry();
    const std::size_t workers = any_worker_count();
    std::vector<TaskSpec> chain;
    for (int i = 0; i < 20000; ++i)
        chain.push_back(
            named(std::to_string(i), i ? std::vector<std::string>{std::to_string(i - 1)} : std::vector<std::string>{}));
    JobSpec spec = job(chain);
    spec.limits.max_tasks = 20000;
    const auto result = run(registry, spec, workers);
    CHECK(result.stats.succeeded == 20000);
    CHECK(result.tasks.front().id == "0");
    CHECK(result.tasks.back().id == "19999");
}

TEST_CASE("One worker starts ready tasks in creation order, each once the one before ended", "[scheduling]") {
    const auto registry = basic_registry();
    std::vector<TaskSpec> tasks;
    for (int i = 0; i < 64; ++i) tasks.push_back(task("t", "echo", {{"i", i}}));
    const auto result = run(registry, job(std::move(tasks)), 1);
    REQUIRE(result.status == JobStatus::succeeded);
    REQUIRE(result.tasks.size() == 64);
    for (std::size_t i = 0; i < result.tasks.size(); ++i) {
        const TaskRecord& record = result.tasks[i];
        CHECK(record.id == std::to_string(i));  // one worker: creation order
        CHECK(history_statuses(record) ==
              std::vector<TaskStatus>{TaskStatus::pending, TaskStatus::started, TaskStatus::succeeded});
        CHECK(record.attempts == 1);
        CHECK(record.output == json{{"i", i}});
        // One worker calls one handler at a time: a task starts only once the one before ended.
        if (i > 0) CHECK(*result.tasks[i - 1].completed_at <= *record.started_at);
    }
}
