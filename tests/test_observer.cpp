// Observers see every status change and spawn, one call at a time, in order.
#include "helpers.hpp"

#include <fmt/format.h>

#include <map>

using namespace jobgraph;
using namespace jobgraph::testing;

namespace {

// Keeps plain, unlocked state: the orchestrator promises never to call it concurrently.
class Recorder : public JobObserver {
public:
    void on_job_started(std::string_view name, std::size_t initial) override {
        lines.push_back(fmt::format("job {} started with {}", name, initial));
    }
    void on_task_status(const TaskEvent& event) override {
        enter();
        statuses[event.task_id].push_back(event.status);
        if (event.status == TaskStatus::started) ++running;
        if (is_final(event.status) && statuses[event.task_id].size() > 1 &&
            statuses[event.task_id][statuses[event.task_id].size() - 2] == TaskStatus::started) {
            --running;
        }
        max_running = std::max(max_running, running);
        std::this_thread::sleep_for(std::chrono::microseconds(50));  // widen any overlap
        leave();
    }
    void on_spawn(const SpawnEvent& event) override {
        enter();
        lines.push_back(fmt::format("spawn {} -> {}", event.parent_id, fmt::join(event.child_ids, ",")));
        leave();
    }
    void on_job_finished(const JobResult& result) override {
        lines.push_back(fmt::format("job finished {}", to_string(result.status)));
    }

    std::vector<std::string> lines;
    std::map<std::string, std::vector<TaskStatus>> statuses;
    int running = 0;
    int max_running = 0;
    std::atomic<int> inside{0};
    std::atomic<bool> overlapped{false};

private:
    void enter() {
        if (inside.fetch_add(1) != 0) overlapped = true;
    }
    void leave() { inside.fetch_sub(1); }
};

}  // namespace

TEST_CASE("Observers get every change in order and never concurrently", "[observer]") {
    const auto registry = basic_registry();
    const std::size_t workers = any_worker_count();
    json children = json::array();
    for (int i = 0; i < 5; ++i) children.push_back(child("t", "sleep", {{"ms", 2}}));
    std::vector<TaskSpec> tasks;
    for (int i = 0; i < 8; ++i) tasks.push_back(task("t", "spawn", {{"children", children}}));
    Recorder recorder;
    const auto result = run(registry, job(tasks, "observed"), workers, &recorder);
    REQUIRE(result.status == JobStatus::succeeded);
    CHECK_FALSE(recorder.overlapped);
    CHECK(recorder.lines.front() == "job observed started with 8");
    CHECK(recorder.lines.back() == "job finished succeeded");
    CHECK(recorder.lines.size() == 10);  // start, 8 spawns, finish
    CHECK(recorder.statuses.size() == 48);
    for (const auto& record : result.tasks) {
        CHECK(recorder.statuses.at(record.id) == history_statuses(record));
    }
    CHECK(recorder.running == 0);
    CHECK(recorder.max_running <= static_cast<int>(workers));
}

namespace {

// Throws from its third task event; counts every call it gets.
class Thrower : public JobObserver {
public:
    void on_task_status(const TaskEvent&) override {
        if (++calls == 3) throw std::runtime_error("dashboard unreachable");
    }
    void on_job_finished(const JobResult&) override { ++finished_calls; }
    int calls = 0;
    int finished_calls = 0;
};

}  // namespace

TEST_CASE("An observer that throws is not called again, the job goes on, and its history says so", "[observer]") {
    const std::size_t workers = any_worker_count();
    const auto registry = basic_registry();
    Thrower observer;
    const auto result = Orchestrator(registry, {.workers = workers})
                            .run(job({named("a"), named("b", {"a"}), named("c", {"b"})}), &observer);
    CHECK(result.status == JobStatus::succeeded);
    CHECK(result.stats.succeeded == 3);
    CHECK(observer.calls == 3);           // pending a, pending b... the third threw; none after
    CHECK(observer.finished_calls == 0);  // not even the last call
    REQUIRE(result.history.size() == 3);
    CHECK(result.history[0].status == JobStatus::running);
    CHECK(result.history[1].status == JobStatus::running);
    CHECK(result.history[1].reason == "Observer failed: dashboard unreachable; it was not called again");
    CHECK(result.history[2].status == JobStatus::succeeded);
}
