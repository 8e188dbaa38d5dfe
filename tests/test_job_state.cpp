// JobState driven directly, one transition at a time: no threads, and every time given.
#include "job_state_machine.hpp"

#include <map>

using namespace jobgraph;
using namespace jobgraph::testing;
using detail::HandlerOutcome;
using detail::JobState;

TEST_CASE("JobState: a chain runs one task at a time, each change timed as given", "[job_state]") {
    Machine m(job({named("a"), named("b", {"a"})}));
    m.state.begin();
    REQUIRE(m.state.has_ready());

    const auto a = m.start("a", 200);
    CHECK_FALSE(m.state.has_ready());  // b waits for a
    CHECK(m.state.in_flight() == 1);
    m.state.finish(a, m.state.record(a).attempts, HandlerOutcome::success(json{{"n", 1}}), at(250), at(260));
    CHECK(m.state.output_of("a") == json{{"n", 1}});
    CHECK_FALSE(m.state.output_of("b").has_value());

    const auto b = m.start("b", 300);
    CHECK_FALSE(m.state.done());
    m.state.finish(b, m.state.record(b).attempts, HandlerOutcome::success(json::object()), at(310), at(320));
    REQUIRE(m.state.done());

    const JobResult result = m.state.take_result(at(400), 1.5);
    CHECK(result.status == JobStatus::succeeded);
    CHECK(result.stats.total == 2);
    CHECK(result.stats.wall_ms == 1.5);
    REQUIRE(result.tasks.size() == 2);
    CHECK(result.tasks[0].id == "a");
    // A success is timed when its handler returned (250), not when it was recorded (260).
    CHECK(timeline(result.tasks[0]) == std::vector<std::pair<TaskStatus, std::int64_t>>{
                                           {TaskStatus::pending, 100}, {TaskStatus::started, 200},
                                           {TaskStatus::succeeded, 250}});
    CHECK(result.tasks[1].started_at == at(300));
    CHECK(result.tasks[1].completed_at == at(310));
    CHECK(result.history.front().at == at(100));
    CHECK(result.history.back().at == at(400));
}

TEST_CASE("JobState: a spawned batch joins the job at its parent's end, and the parent settles after it",
          "[job_state]") {
    Machine m(job({named("root"), named("after", {"root"})}));
    m.state.begin();
    const auto root_index = m.start("root", 200);
    const auto started = JobState::Started{root_index, &m.state.record(root_index), nullptr, 1};
    m.state.finish(root_index, m.state.record(root_index).attempts,
                   m.result(started, json{{"childTasks", json::array({{{"service", "t"}, {"command", "echo"}},
                                                                     {{"service", "t"}, {"command", "echo"}}})}}),
                   at(250), at(260));
    REQUIRE(m.state.size() == 4);
    CHECK(m.state.record(root_index).children == std::vector<std::string>{"root-0", "root-1"});
    CHECK(m.state.record(2).id == "root-0");
    CHECK(m.state.record(2).depth == 1);
    CHECK(m.state.record(2).parent_id == std::optional<std::string>("root"));
    CHECK(m.state.record(2).history.front().at == at(250));  // pending from the parent's end

    // "after" joins root: it waits for both children, which start in creation order.
    const auto first = m.start("root-0", 300);
    const auto second = m.start("root-1", 300);
    CHECK_FALSE(m.state.has_ready());
    m.state.finish(second, m.state.record(second).attempts, HandlerOutcome::success(), at(310), at(311));
    CHECK_FALSE(m.state.has_ready());
    m.state.finish(first, m.state.record(first).attempts, HandlerOutcome::success(), at(320), at(321));
    m.start("after", 330);
}

TEST_CASE("JobState: a failure with abortOnFailure aborts what has not started and signals a stop once",
          "[job_state]") {
    Machine m(job({named("a"), named("b"), named("c", {"a"})}));
    m.state.begin();
    const auto a = m.start("a", 200);
    const auto b = m.start("b", 200);
    m.state.finish(a, m.state.record(a).attempts, HandlerOutcome::failure("disk full"), at(210), at(220));
    CHECK(m.state.stop_cause() == JobState::StopCause::failure);
    CHECK(m.state.take_stop_signal());
    CHECK_FALSE(m.state.take_stop_signal());
    CHECK_FALSE(m.state.done());  // b still runs
    CHECK(m.state.record(2).status == TaskStatus::aborted);
    CHECK(m.state.record(2).output == json{{"error", "Aborted: dependency a failed"}});
    CHECK(m.state.record(2).history.back().at == at(220));  // failures are timed as recorded

    // Children b returns now are not added.
    const auto started = JobState::Started{b, &m.state.record(b), nullptr, 1};
    m.state.finish(b, m.state.record(b).attempts, m.result(started, json{{"childTasks", json::array({{{"service", "t"}, {"command", "echo"}}})}}),
                   at(230), at(240));
    CHECK(m.state.size() == 3);
    CHECK(m.state.record(b).history.back().reason == "1 child task(s) not added: the job is stopping");
    REQUIRE(m.state.done());
    const auto result = m.state.take_result(at(300), 0);
    CHECK(result.status == JobStatus::failed);
    CHECK_FALSE(result.error_message.has_value());
}

TEST_CASE("JobState: a timeout names the limit, the elapsed time and what had succeeded", "[job_state]") {
    JobSpec spec = job({named("a"), named("b"), named("c", {"b"})});
    spec.limits.timeout = std::chrono::milliseconds(50);
    Machine m(std::move(spec));
    m.state.begin();
    const auto a = m.start("a", 200);
    const auto b = m.start("b", 200);
    m.state.finish(a, m.state.record(a).attempts, HandlerOutcome::success(), at(210), at(211));
    m.state.time_out(std::chrono::milliseconds(51), at(50'300));
    CHECK(m.state.take_stop_signal());
    CHECK(m.state.record(2).output == json{{"error", "Job execution timeout: 50ms limit exceeded"}});
    CHECK_FALSE(m.state.done());
    m.state.finish(b, m.state.record(b).attempts, HandlerOutcome::abort("Stopped on request"), at(50'400), at(50'401));
    REQUIRE(m.state.done());
    const auto result = m.state.take_result(at(50'500), 0);
    CHECK(result.error_message ==
          std::optional<std::string>("Job execution timeout: 50ms limit exceeded. Elapsed: 51ms. Completed 1/3 tasks."));
}

TEST_CASE("JobState: the change log lists changed records once per batch, and events in order", "[job_state]") {
    Machine m(job({named("a"), named("b", {"a"})}), {.record_events = true, .track_changes = true});
    m.state.begin();
    detail::ChangeLog log;
    m.state.take_changes(log);
    CHECK(log.tasks == std::vector<JobState::Index>{0, 1});
    REQUIRE(log.events.size() == 2);
    CHECK(std::get<TaskEvent>(log.events[0]).task_id == "a");

    const auto a = m.start("a", 200);
    m.state.finish(a, m.state.record(a).attempts, HandlerOutcome::success(), at(210), at(211));
    m.start("b", 220);
    m.state.take_changes(log);
    CHECK(log.tasks == std::vector<JobState::Index>{0, 1});  // a started and ended: listed once
    std::vector<std::pair<std::string, TaskStatus>> events;
    for (const auto& event : log.events) {
        const auto& e = std::get<TaskEvent>(event);
        events.emplace_back(e.task_id, e.status);
    }
    CHECK(events == std::vector<std::pair<std::string, TaskStatus>>{
                        {"a", TaskStatus::started}, {"a", TaskStatus::succeeded}, {"b", TaskStatus::started}});
    m.state.take_changes(log);
    CHECK(log.empty());
}

TEST_CASE("JobState: restored records keep their outcome, and an interrupted task runs again", "[job_state]") {
    std::vector<TaskRecord> stored;
    {
        Machine first(job({named("a"), named("b", {"a"}), named("c")}));
        first.state.begin();
        const auto a = first.start("a", 200);
        first.start("c", 200);
        first.state.finish(a, 1, HandlerOutcome::success(json{{"kept", true}}), at(210), at(211));
        for (std::size_t i = 0; i < first.state.size(); ++i)
            stored.push_back(first.state.record(static_cast<JobState::Index>(i)));
    }
    Machine second(job({named("a"), named("b", {"a"}), named("c")}), {}, stored);
    second.state.begin();
    CHECK(second.state.record(0).status == TaskStatus::succeeded);
    CHECK(second.state.record(2).status == TaskStatus::pending);
    CHECK(second.state.record(2).history.back().reason == "Interrupted before it finished; it runs again");
    second.start("b", 300);
    const auto c = second.start("c", 300);
    CHECK(second.state.record(c).attempts == 2);
}

TEST_CASE("JobState: rewinding puts records back as far as the store saved them", "[job_state]") {
    Machine m(job({named("root")}));
    m.state.begin();
    const auto root = m.start("root", 200);
    const auto started = JobState::Started{root, &m.state.record(root), nullptr, 1};
    m.state.finish(root, m.state.record(root).attempts, m.result(started, json{{"childTasks", json::array({{{"service", "t"}, {"command", "echo"}}})}}),
                   at(250), at(260));
    REQUIRE(m.state.size() == 2);
    // The store holds root's pending and started entries, and nothing of its child.
    m.state.rewind_to({2});
    REQUIRE(m.state.size() == 1);
    const TaskRecord& record = m.state.record(0);
    CHECK(record.status == TaskStatus::started);
    CHECK(record.attempts == 1);
    CHECK(record.started_at == at(200));
    CHECK_FALSE(record.completed_at.has_value());
    CHECK(record.output == nullptr);
    CHECK(record.children.empty());
}

TEST_CASE("JobState: a batch that would overshoot maxTasks fails its parent and adds nothing", "[job_state]") {
    JobSpec spec = job({named("root")});
    spec.limits.max_tasks = 2;
    Machine m(std::move(spec));
    m.state.begin();
    const auto root = m.start("root", 200);
    const auto started = JobState::Started{root, &m.state.record(root), nullptr, 1};
    json children = json::array();
    for (int i = 0; i < 2; ++i) children.push_back({{"service", "t"}, {"command", "echo"}});
    m.state.finish(root, m.state.record(root).attempts, m.result(started, json{{"childTasks", children}}), at(250), at(260));
    CHECK(m.state.size() == 1);
    CHECK(m.state.record(root).status == TaskStatus::failed);
    CHECK(m.state.record(root).history.back().reason ==
          "Task limit exceeded: 2 tasks maximum. Task root attempted to spawn child root-1.");
    CHECK(m.state.done());
}
