// Section 5: no waves. A ready task starts at once, whatever else is still running.
#include "helpers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

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

namespace {

// A registry whose "s/note" handler notes each thread it runs on.
struct ThreadNotes {
    std::mutex mutex;
    std::set<int> threads;
    HandlerRegistry registry;

    ThreadNotes() {
        registry.add("s", "note", [this](TaskContext& ctx) {
            std::lock_guard lock(mutex);
            threads.insert(thread_serial());
            return ctx.input();
        });
    }
};

}  // namespace

TEST_CASE("Runs of one orchestrator reuse its worker threads", "[scheduling]") {
    ThreadNotes notes;
    const std::size_t workers = GENERATE(as<std::size_t>{}, 1, 2, 4);
    Orchestrator orchestrator(notes.registry, {.workers = workers});
    for (int round = 0; round < 10; ++round) {
        const auto result = orchestrator.run(job(std::vector<TaskSpec>(8, task("s", "note"))));
        REQUIRE(result.status == JobStatus::succeeded);
    }
    // Threads started for each run would come to up to ten times as many.
    CHECK(notes.threads.size() >= 1);
    CHECK(notes.threads.size() <= workers);
    CHECK(notes.threads.count(thread_serial()) == 0);
}

TEST_CASE("Threads that would poll for an hour still run job after job, and the orchestrator ends them at once",
          "[scheduling]") {
    // Each poll must end by what it waits for, not by its budget (on x86; other CPUs never
    // poll). Shared, so that a body that never returns keeps what it uses.
    auto notes = std::make_shared<ThreadNotes>();
    auto orchestrator = std::make_shared<Orchestrator>(
        notes->registry, OrchestratorOptions{.workers = 2, .spin_before_sleep = std::chrono::hours(1)});
    auto statuses = std::make_shared<std::vector<JobStatus>>();
    REQUIRE(returns_soon([notes, orchestrator, statuses] {
        for (int round = 0; round < 10; ++round) {
            statuses->push_back(orchestrator->run(job(std::vector<TaskSpec>(8, task("s", "note")))).status);
        }
    }));
    CHECK(*statuses == std::vector<JobStatus>(10, JobStatus::succeeded));
    CHECK(notes->threads.size() <= 2);
    REQUIRE(returns_soon([orchestrator = std::move(orchestrator)]() mutable { orchestrator.reset(); }));
}

TEST_CASE("Without a worker count, an orchestrator has as many workers as the hardware threads", "[scheduling]") {
    const HandlerRegistry registry = basic_registry();
    const std::size_t hardware = std::max(1u, std::thread::hardware_concurrency());
    CHECK(Orchestrator(registry).workers() == hardware);
    CHECK(Orchestrator(registry, {.workers = 0}).workers() == hardware);
    CHECK(Orchestrator(registry, {.workers = 3}).workers() == 3);
}

TEST_CASE("A moved orchestrator runs jobs on the threads it kept", "[scheduling]") {
    ThreadNotes notes;
    const JobSpec spec = job(std::vector<TaskSpec>(8, task("s", "note")));
    Orchestrator first(notes.registry, {.workers = 2});
    REQUIRE(first.run(spec).status == JobStatus::succeeded);
    const Orchestrator second(std::move(first));
    CHECK(second.workers() == 2);
    for (int round = 0; round < 5; ++round) REQUIRE(second.run(spec).status == JobStatus::succeeded);
    CHECK(notes.threads.size() <= 2);  // new threads per run would come to up to twelve
}

namespace {

// Runs round_of(caller, round, note) for each of @p rounds on @p callers threads at once and
// returns what each caller noted. Catch2 2 asserts on one thread only: the threads note.
template <typename Round>
std::vector<std::vector<std::string>> on_callers_at_once(int callers, int rounds, Round round_of) {
    std::vector<std::vector<std::string>> problems(static_cast<std::size_t>(callers));
    std::vector<std::thread> threads;
    for (int caller = 0; caller < callers; ++caller) {
        threads.emplace_back([&, caller] {
            for (int round = 0; round < rounds; ++round) {
                const auto note = [&](const std::string& what) {
                    problems[static_cast<std::size_t>(caller)].push_back(
                        fmt::format("caller {} round {}: {}", caller, round, what));
                };
                round_of(caller, round, note);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    return problems;
}

}  // namespace

TEST_CASE("Several runs at once on one orchestrator each run their own job to its end", "[scheduling][stress]") {
    const auto registry = basic_registry();
    Orchestrator orchestrator(registry, {.workers = 2});
    const auto problems = on_callers_at_once(4, 25, [&](int caller, int round, const auto& note) {
        // A diamond whose tasks echo who asked, so that a task run for the wrong job shows.
        const json mark{{"caller", caller}, {"round", round}};
        const auto result = orchestrator.run(job(
            {named("a", {}, mark), named("b", {"a"}, mark), named("c", {"a"}, mark), named("d", {"b", "c"}, mark)}));
        if (result.status != JobStatus::succeeded || result.tasks.size() != 4) {
            note(fmt::format("{} with {} tasks", to_string(result.status), result.tasks.size()));
            return;
        }
        for (const auto& record : result.tasks) {
            if (record.output != mark) note(record.id);
        }
        if (result.tasks.front().id != "a" || result.tasks.back().id != "d") note("out of order");
    });
    for (const auto& mine : problems) CHECK(mine == std::vector<std::string>{});
}

TEST_CASE("A handler may run a job on the orchestrator that runs it", "[scheduling]") {
    HandlerRegistry registry = basic_registry();
    const Orchestrator* running = nullptr;  // set before any handler runs
    registry.add("s", "nested", [&](TaskContext& ctx) {
        const auto inner = running->run(job({named("x", {}, ctx.input()), named("y", {"x"}, ctx.input())}, "inner"));
        return json{{"status", to_string(inner.status)}, {"last", inner.tasks.back().output}};
    });
    const std::size_t workers = GENERATE(as<std::size_t>{}, 1, 2);
    Orchestrator orchestrator(registry, {.workers = workers});
    running = &orchestrator;
    for (int round = 0; round < 3; ++round) {
        const auto result =
            orchestrator.run(job({task("s", "nested", {{"n", 1}}, {}, "a"), task("s", "nested", {{"n", 2}}, {}, "b")}));
        REQUIRE(result.status == JobStatus::succeeded);
        CHECK(result.tasks[0].output == json{{"status", "succeeded"}, {"last", {{"n", 1}}}});
        CHECK(result.tasks[1].output == json{{"status", "succeeded"}, {"last", {{"n", 2}}}});
    }
}

TEST_CASE("Runs at once that are refused, time out or succeed leave the orchestrator's threads fit for more",
          "[scheduling][stress]") {
    // The refused runs give their threads back unused, the timed-out ones after stopping a
    // handler; every run after them must still find threads that work.
    const auto registry = basic_registry();
    Orchestrator orchestrator(registry, {.workers = 2});
    const auto problems = on_callers_at_once(3, 30, [&](int caller, int round, const auto& note) {
        switch ((caller + round) % 3) {
            case 0: {  // refused: an unknown handler
                const auto result = orchestrator.run(job({task("t", "nope")}));
                if (result.error_message.value_or("") !=
                    "Job validation failed:\nTask 0: Unknown service/command: t/nope (service t has: echo, "
                    "fail, side, sleep, spawn)") {
                    note(result.error_message.value_or("no error"));
                }
                break;
            }
            case 1: {  // times out while a handler sleeps, which stops it
                JobSpec spec = job({task("t", "sleep", {{"ms", 5000}}, {}, "slow")});
                spec.limits.timeout = std::chrono::milliseconds(5);
                const auto result = orchestrator.run(spec);
                if (result.status != JobStatus::failed || result.at("slow").status != TaskStatus::aborted) {
                    note(fmt::format("{}, slow {}", to_string(result.status), to_string(result.at("slow").status)));
                }
                break;
            }
            default: {
                const auto result = orchestrator.run(job({named("a"), named("b", {"a"})}));
                if (result.status != JobStatus::succeeded || ids_of(result) != std::vector<std::string>{"a", "b"}) {
                    note(std::string(to_string(result.status)));
                }
            }
        }
    });
    for (const auto& mine : problems) CHECK(mine == std::vector<std::string>{});
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

// Workers that end a task at the same moment: one of them records both outcomes and hands the
// other its next task. Each outcome must land on its own task, once, in the right order.
TEST_CASE("Tasks that end together on different workers are each recorded on their own task", "[scheduling][stress]") {
    std::atomic<int> arrivals{0};
    HandlerRegistry registry;
    registry.add("s", "pair", [&](TaskContext& ctx) {
        wait_for_partner(arrivals);
        json output{{"i", ctx.input().at("i")}};
        if (ctx.input().value("spawn", false)) {
            ctx.spawn(task("s", "pair", {{"i", ctx.input().at("i").get<int>() + 1000}}));
        }
        return output;
    });
    const bool spawn = GENERATE(false, true);
    const std::size_t workers = GENERATE(as<std::size_t>{}, 2, 4);
    constexpr int middle = 300;
    std::vector<TaskSpec> tasks{task("s", "pair", {{"i", -1}}, {}, "root")};
    std::vector<std::string> all_middle;
    for (int i = 0; i < middle; ++i) {
        tasks.push_back(task("s", "pair", {{"i", i}, {"spawn", spawn}}, {"root"}, fmt::format("m{}", i)));
        all_middle.push_back(fmt::format("m{}", i));
    }
    tasks.push_back(task("s", "pair", {{"i", -2}}, all_middle, "sink"));
    JobSpec spec = job(std::move(tasks));
    // With spawning, beyond what a run reserves records for: workers lend handlers their records.
    spec.limits.max_tasks = spawn ? 1'000'000 : middle + 2;
    const auto result = run(registry, spec, workers);

    const std::size_t expected = middle + 2 + (spawn ? middle : 0);
    REQUIRE(result.status == JobStatus::succeeded);
    REQUIRE(result.tasks.size() == expected);
    CHECK(arrivals.load() == static_cast<int>(expected));
    for (const TaskRecord& record : result.tasks) {
        CHECK(record.output == json{{"i", record.input.at("i")}});
        CHECK(record.attempts == 1);
        CHECK(history_statuses(record) ==
              std::vector<TaskStatus>{TaskStatus::pending, TaskStatus::started, TaskStatus::succeeded});
        CHECK(record.history[1].at == *record.started_at);
        CHECK(record.history[2].at == *record.completed_at);
        CHECK(*record.started_at <= *record.completed_at);
    }
    const TaskRecord& sink = result.at("sink");
    for (const auto& id : all_middle) CHECK(*result.at(id).completed_at <= *sink.started_at);
    if (spawn) {
        for (const auto& id : all_middle) {
            const TaskRecord& child = result.at(id + "-0");
            CHECK(child.parent_id == id);
            CHECK(child.input.at("i").get<int>() == result.at(id).input.at("i").get<int>() + 1000);
            CHECK(*result.at(id).completed_at <= *child.started_at);
        }
    }
}
