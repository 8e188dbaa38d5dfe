// Sections 5 and 6: failures, abortOnFailure, and aborts carried through dependencies.
#include "helpers.hpp"

using namespace jobgraph;
using namespace jobgraph::testing;

TEST_CASE("A throwing handler fails its task with the exception's message", "[failure]") {
    HandlerRegistry registry = basic_registry();
    registry.add("r", "weird", [](TaskContext&) -> json { throw 42; });
    JobSpec spec = job({task("t", "fail", {{"message", "disk full"}}), task("r", "weird")});
    spec.abort_on_failure = false;
    const auto result = run(registry, spec, any_worker_count());
    CHECK(result.status == JobStatus::failed);
    CHECK_FALSE(result.error_message.has_value());
    CHECK(result.at("0").output == json{{"error", "disk full"}});
    CHECK(result.at("1").output == json{{"error", "unknown exception"}});
    CHECK(history_statuses(result.at("0")) ==
          std::vector<TaskStatus>{TaskStatus::pending, TaskStatus::started, TaskStatus::failed});
    CHECK(result.at("0").history.back().reason == "disk full");
}

TEST_CASE("abortOnFailure false: independent work goes on, dependents are aborted transitively", "[failure]") {
    const auto registry = basic_registry();
    JobSpec spec = job({
        task("t", "fail", {}, {}, "bad"),
        named("child-of-bad", {"bad"}),
        named("grandchild", {"child-of-bad"}),
        named("independent"),
        named("after-independent", {"independent"}),
    });
    spec.abort_on_failure = false;
    const auto result = run(registry, spec, any_worker_count());
    CHECK(result.status == JobStatus::failed);
    CHECK(result.at("bad").status == TaskStatus::failed);
    CHECK(result.at("child-of-bad").status == TaskStatus::aborted);
    CHECK(result.at("child-of-bad").output == json{{"error", "Aborted: dependency bad failed"}});
    CHECK(result.at("grandchild").output == json{{"error", "Aborted: dependency child-of-bad failed"}});
    CHECK(result.at("independent").status == TaskStatus::succeeded);
    CHECK(result.at("after-independent").status == TaskStatus::succeeded);
    CHECK(result.stats == JobStats{5, 2, 1, 2, 0, 0, 0, result.stats.wall_ms});
}

TEST_CASE("A failure deep in a dependency's subtree aborts the dependent, naming the task that failed", "[failure]") {
    const auto registry = basic_registry();
    const json deep = json::array({child("t", "fail")});
    const json kids = json::array({child("t", "spawn", {{"children", deep}})});
    JobSpec spec = job({task("t", "spawn", {{"children", kids}}, {}, "D"), named("W", {"D"})});
    spec.abort_on_failure = GENERATE(false, true);  // W is aborted as D settles, before any stop
    const auto result = run(registry, spec, any_worker_count());
    CHECK(result.at("D").status == TaskStatus::succeeded);
    CHECK(result.at("D-0-0").status == TaskStatus::failed);
    CHECK(result.at("W").status == TaskStatus::aborted);
    CHECK(result.at("W").output == json{{"error", "Aborted: dependency D-0-0 failed"}});
}

TEST_CASE("abortOnFailure true: after the first failure nothing more starts", "[failure]") {
    const auto registry = basic_registry();
    // One worker runs roots in order: "bad" fails before "later" or "dependent" could start.
    JobSpec spec = job({task("t", "fail", {}, {}, "bad"), named("later"), named("dependent", {"bad"})});
    const auto result = run(registry, spec, 1);
    CHECK(result.status == JobStatus::failed);
    CHECK(result.at("later").status == TaskStatus::aborted);
    CHECK(result.at("later").output == json{{"error", "Previous task failed and abortOnFailure is true"}});
    CHECK(result.at("later").attempts == 0);
    CHECK(result.at("dependent").output == json{{"error", "Aborted: dependency bad failed"}});
    CHECK(ids_of(result) == std::vector<std::string>{"bad", "later", "dependent"});
}

TEST_CASE("abortOnFailure true: tasks ending together with the failure start nothing after it", "[failure][stress]") {
    // Handlers return in pairs, so that one worker often records another's failure together
    // with its own outcome before it hands out any next task.
    const std::size_t workers = GENERATE(as<std::size_t>{}, 2, 4);
    const int failing = GENERATE(41, 42, 43);
    std::atomic<int> arrivals{0};
    HandlerRegistry registry;
    registry.add("s", "pair", [&](TaskContext& ctx) -> json {
        wait_for_partner(arrivals);
        if (ctx.input().value("fail", false)) throw std::runtime_error("boom");
        return json{{"ok", true}};
    });
    // The order in which changes are reported is exact, where times may tie to the microsecond.
    struct StartsAfterFailure : JobObserver {
        bool failed = false;
        int starts_after = 0;
        void on_task_status(const TaskEvent& event) override {
            if (event.status == TaskStatus::failed) failed = true;
            if (event.status == TaskStatus::started && failed) ++starts_after;
        }
    } observer;
    std::vector<TaskSpec> tasks;
    for (int i = 0; i < 100; ++i) tasks.push_back(task("s", "pair", {{"fail", i == failing}}));
    const auto result = run(registry, job(std::move(tasks)), workers, &observer);

    REQUIRE(result.status == JobStatus::failed);
    const TaskRecord& failed = result.at(std::to_string(failing));
    CHECK(failed.status == TaskStatus::failed);
    CHECK(result.stats.failed == 1);
    CHECK(result.stats.succeeded + result.stats.failed + result.stats.aborted == 100);
    CHECK(observer.failed);
    CHECK(observer.starts_after == 0);
    for (const TaskRecord& record : result.tasks) {
        if (record.started_at) {
            CHECK(*record.started_at <= *failed.completed_at);
        } else {
            CHECK(record.output == json{{"error", "Previous task failed and abortOnFailure is true"}});
        }
    }
}

TEST_CASE("abortOnFailure true: with one worker, no task after the failing one starts", "[failure]") {
    const auto registry = basic_registry();
    std::vector<TaskSpec> tasks;
    for (int i = 0; i < 20; ++i) tasks.push_back(i == 3 ? task("t", "fail") : task("t", "echo"));
    const auto result = run(registry, job(std::move(tasks)), 1);
    CHECK(result.status == JobStatus::failed);
    for (int i = 0; i < 20; ++i) {
        const TaskRecord& record = result.at(std::to_string(i));
        if (i < 3) {
            CHECK(record.status == TaskStatus::succeeded);
        } else if (i == 3) {
            CHECK(record.status == TaskStatus::failed);
        } else {
            CHECK(record.status == TaskStatus::aborted);
            CHECK(record.attempts == 0);
            CHECK_FALSE(record.started_at.has_value());
            CHECK(history_statuses(record) == std::vector<TaskStatus>{TaskStatus::pending, TaskStatus::aborted});
            CHECK(record.output == json{{"error", "Previous task failed and abortOnFailure is true"}});
        }
    }
}

TEST_CASE("abortOnFailure true: running handlers are asked to stop and those that give up end aborted", "[failure]") {
    HandlerRegistry registry = basic_registry();
    registry.add("r", "fail-soon", [](TaskContext&) -> json {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        throw std::runtime_error("broken");
    });
    JobSpec spec = job({task("t", "sleep", {{"ms", 5000}}, {}, "slow"), task("r", "fail-soon", {}, {}, "bad"),
                        named("never", {"slow"})});
    const auto started = std::chrono::steady_clock::now();
    const auto result = run(registry, spec, 2);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(4));
    CHECK(result.at("bad").status == TaskStatus::failed);
    CHECK(result.at("slow").status == TaskStatus::aborted);
    CHECK(result.at("slow").output == json{{"error", "Stopped on request"}});
    CHECK(result.at("never").output == json{{"error", "Previous task failed and abortOnFailure is true"}});
}

TEST_CASE("Children returned after the stop request are not added", "[failure]") {
    HandlerRegistry registry = basic_registry();
    registry.add("r", "late-spawner", [](TaskContext& ctx) {
        while (!ctx.stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return json{{"childTasks", json::array({child("t", "echo")})}, {"output", {{"kept", true}}}};
    });
    JobSpec spec = job({task("r", "late-spawner"), task("t", "fail")});
    const auto result = run(registry, spec, 2);
    CHECK(result.at("0").status == TaskStatus::succeeded);
    CHECK(result.at("0").output == json{{"kept", true}});
    CHECK(result.at("0").children.empty());
    CHECK(result.at("0").history.back().reason == "1 child task(s) not added: the job is stopping");
    CHECK(result.stats.total == 2);
}
