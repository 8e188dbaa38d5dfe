// Section 5: handlers that complete asynchronously hold no worker while they wait.
#include "helpers.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <map>
#include <mutex>

using namespace jobgraph;
using namespace jobgraph::testing;
using namespace std::chrono_literals;

namespace {

// Collects completions and fulfils them from its own thread once told to.
class Completer {
public:
    void add(Completion completion, json result) {
        std::lock_guard lock(mutex_);
        pending_.emplace_back(std::move(completion), std::move(result));
        changed_.notify_all();
    }
    /// Waits (up to 5 s) until @p count completions are held; true if they all arrived.
    bool wait_for(std::size_t count) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, 5s, [&] { return pending_.size() >= count; });
    }
    void fulfil_all() {
        std::vector<std::pair<Completion, json>> pending;
        {
            std::lock_guard lock(mutex_);
            pending.swap(pending_);
        }
        for (auto& [completion, result] : pending) completion.succeed(result);
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::pair<Completion, json>> pending_;
};

}  // namespace

TEST_CASE("Asynchronous handlers hold no worker while they wait", "[async]") {
    Completer completer;
    HandlerRegistry registry;
    registry.add_async("io", "wait", [&](TaskContext& ctx, Completion done) {
        completer.add(std::move(done), json{{"id", ctx.id()}});
    });
    registry.add("t", "echo", [](TaskContext& ctx) { return ctx.input(); });
    std::vector<TaskSpec> tasks;
    for (int i = 0; i < 10; ++i) tasks.push_back(task("io", "wait"));
    tasks.push_back(task("t", "echo", {}, {"0", "9"}, "after"));

    bool all_started_while_pending = false;
    std::thread fulfiller([&] {
        all_started_while_pending = completer.wait_for(10);  // only possible if no worker is held
        completer.fulfil_all();
    });
    const auto result = run(registry, job(tasks), 1);  // a single worker
    fulfiller.join();
    CHECK(all_started_while_pending);
    CHECK(result.status == JobStatus::succeeded);
    CHECK(result.at("3").output == json{{"id", "3"}});
    CHECK(result.at("after").status == TaskStatus::succeeded);
}

TEST_CASE("An asynchronous completion fulfilled from another thread can fail, abort or spawn", "[async]") {
    // Catch2 assertions are not thread-safe: the fulfilling thread notes what it saw here.
    std::atomic<bool> first_won{false};
    std::atomic<bool> second_refused{false};
    std::atomic<bool> late_fail_refused{false};
    std::mutex threads_mutex;
    std::vector<std::thread> threads;
    HandlerRegistry registry;
    registry.add("t", "echo", [](TaskContext& ctx) { return ctx.input(); });
    registry.add_async("io", "later", [&](TaskContext& ctx, Completion done) {
        const std::string mode = ctx.input().at("mode");
        if (mode == "context-spawn") ctx.spawn(task("t", "echo", {{"from", "context"}}));
        std::lock_guard lock(threads_mutex);
        threads.emplace_back([&, done, mode] {
            std::this_thread::sleep_for(5ms);
            if (mode == "fail") {
                done.fail("remote error");
            } else if (mode == "abort") {
                done.abort("gave up");
            } else if (mode == "spawn") {
                done.succeed({{"childTasks", json::array({child("t", "echo")})}, {"output", {{"ok", 1}}}});
            } else {
                first_won = done.succeed({{"ok", 2}});
                second_refused = !done.succeed({{"ok", 3}});  // the first fulfilment wins
                late_fail_refused = !done.fail("too late");
            }
        });
    });
    JobSpec spec = job({task("io", "later", {{"mode", "fail"}}), task("io", "later", {{"mode", "abort"}}),
                        task("io", "later", {{"mode", "spawn"}}), task("io", "later", {{"mode", "context-spawn"}}),
                        task("io", "later", {{"mode", "twice"}})});
    spec.abort_on_failure = false;
    const auto result = run(registry, spec, any_worker_count());
    for (auto& thread : threads) thread.join();
    CHECK(result.at("0").status == TaskStatus::failed);
    CHECK(result.at("0").output == json{{"error", "remote error"}});
    CHECK(result.at("1").status == TaskStatus::aborted);
    CHECK(result.at("1").output == json{{"error", "gave up"}});
    CHECK(result.at("2").output == json{{"ok", 1}});
    CHECK(result.at("2-0").status == TaskStatus::succeeded);
    CHECK(result.at("3").children == std::vector<std::string>{"3-0"});
    CHECK(result.at("3-0").input == json{{"from", "context"}});
    CHECK(result.at("4").output == json{{"ok", 2}});
    CHECK(first_won);
    CHECK(second_refused);
    CHECK(late_fail_refused);
}

TEST_CASE("A completion dropped unfulfilled fails its task, and so does a throwing async handler", "[async]") {
    HandlerRegistry registry;
    registry.add_async("io", "drop", [](TaskContext&, Completion) {});
    registry.add_async("io", "throw", [](TaskContext&, Completion) { throw std::runtime_error("no connection"); });
    JobSpec spec = job({task("io", "drop"), task("io", "throw")});
    spec.abort_on_failure = false;
    const auto result = run(registry, spec, any_worker_count());
    CHECK(result.at("0").output ==
          json{{"error", "Asynchronous handler dropped its completion without fulfilling it"}});
    CHECK(result.at("1").output == json{{"error", "no connection"}});
}

TEST_CASE("An asynchronous handler hears the stop request through its completion", "[async][timeout]") {
    HandlerRegistry registry;
    std::mutex mutex;
    std::vector<std::unique_ptr<std::stop_callback<std::function<void()>>>> callbacks;
    registry.add_async("io", "forever", [&](TaskContext&, Completion done) {
        std::lock_guard lock(mutex);
        callbacks.push_back(std::make_unique<std::stop_callback<std::function<void()>>>(
            done.stop_token(), std::function<void()>([done] { done.abort("cancelled by stop request"); })));
    });
    JobSpec spec = job({task("io", "forever"), task("io", "forever")});
    spec.limits.timeout = 50ms;
    const auto started = std::chrono::steady_clock::now();
    const auto result = run(registry, spec, any_worker_count());
    CHECK(std::chrono::steady_clock::now() - started < 2s);
    CHECK(result.at("0").status == TaskStatus::aborted);
    CHECK(result.at("0").output == json{{"error", "cancelled by stop request"}});
    CHECK_THAT(*result.error_message, Catch::StartsWith("Job execution timeout: 50ms limit exceeded."));
    callbacks.clear();
}

// Workers post what their tasks came to and the holder of the lock records it; an asynchronous
// start posts nothing to record. Mixed with synchronous tasks, spawning and records lent to
// their handlers, every task must still end once, with its own output, reported in order.
TEST_CASE("Asynchronous and synchronous tasks ending together are each recorded once, in order", "[async][stress]") {
    // Plain state: observers are never called concurrently.
    struct StatusLog : JobObserver {
        std::map<std::string, std::vector<TaskStatus>> statuses;
        std::map<std::string, Timestamp> last_at;
        int out_of_order = 0;
        void on_task_status(const TaskEvent& event) override {
            statuses[event.task_id].push_back(event.status);
            if (event.at < last_at[event.task_id]) ++out_of_order;
            last_at[event.task_id] = event.at;
        }
    };
    const std::size_t workers = GENERATE(as<std::size_t>{}, 2, 4, 8);
    std::mutex threads_mutex;
    std::vector<std::thread> completers;
    HandlerRegistry registry;
    // Even inputs complete during the call, odd ones from a thread of their own.
    registry.add_async("a", "x", [&](TaskContext& ctx, Completion done) {
        const int i = ctx.input().at("i").get<int>();
        if (ctx.input().value("spawn", false)) ctx.spawn(task("s", "x", {{"i", i + 100000}}));
        if (i % 2 == 0) {
            done.succeed(json{{"i", i}});
        } else {
            std::lock_guard lock(threads_mutex);
            completers.emplace_back([done = std::move(done), i] { done.succeed(json{{"i", i}}); });
        }
    });
    registry.add("s", "x", [](TaskContext& ctx) {
        const int i = ctx.input().at("i").get<int>();
        if (ctx.input().value("spawn", false)) ctx.spawn(task("a", "x", {{"i", i + 200000}}));
        return json{{"i", i}};
    });
    constexpr int middle = 200;
    std::vector<TaskSpec> tasks{task("s", "x", {{"i", -1}}, {}, "root")};
    std::vector<std::string> middle_ids;
    for (int i = 0; i < middle; ++i) {
        // Not "m" + std::to_string(i): GCC 12's -Wrestrict misreads that operator+ once inlined.
        middle_ids.push_back(fmt::format("m{}", i));
        tasks.push_back(task(i % 3 ? "s" : "a", "x", {{"i", i}, {"spawn", true}}, {"root"}, middle_ids.back()));
    }
    tasks.push_back(task("s", "x", {{"i", -2}}, middle_ids, "sink"));
    JobSpec spec = job(std::move(tasks));
    // Beyond what a run reserves records for: the workers lend handlers their records, or copies.
    spec.limits.max_tasks = 1'000'000;
    StatusLog log;
    const auto result = run(registry, spec, workers, &log);
    for (auto& thread : completers) thread.join();

    REQUIRE(result.status == JobStatus::succeeded);
    REQUIRE(result.tasks.size() == 2 * middle + 2);
    for (const TaskRecord& record : result.tasks) {
        CHECK(record.output == json{{"i", record.input.at("i")}});
        CHECK(record.attempts == 1);
        CHECK(log.statuses[record.id] ==
              std::vector<TaskStatus>{TaskStatus::pending, TaskStatus::started, TaskStatus::succeeded});
    }
    CHECK(log.out_of_order == 0);
    const Timestamp sink_start = *result.at("sink").started_at;
    for (const auto& id : middle_ids) CHECK(*result.at(id + "-0").completed_at <= sink_start);
}
