// Section 7: statuses, history and the result's JSON shape.
#include "helpers.hpp"

#include <set>

using namespace jobgraph;
using namespace jobgraph::testing;

TEST_CASE("The result JSON has the contract's shape", "[result]") {
    const auto registry = basic_registry();
    const json children = json::array({child("t", "echo", {{"x", 1}})});
    JobSpec spec = job({task("t", "spawn", {{"children", children}}), named("last", {"0"})}, "shape");
    const auto result = run(registry, spec, any_worker_count());
    const json j = result;

    CHECK(j.at("name") == "shape");
    CHECK(j.at("status") == "succeeded");
    CHECK_FALSE(j.contains("errorMessage"));
    CHECK(j.at("startedAt").get<std::string>().size() == 27);
    CHECK(j.at("stats") == json{{"total", 3},
                                {"succeeded", 3},
                                {"failed", 0},
                                {"aborted", 0},
                                {"planned", 0},
                                {"pending", 0},
                                {"retrying", 0},
                                {"wallMs", result.stats.wall_ms}});
    const json& first = j.at("tasks").at(0);
    CHECK(first.at("id") == "0");
    CHECK(first.at("parentId").is_null());
    CHECK(first.at("depth") == 0);
    CHECK(first.at("service") == "t");
    CHECK(first.at("command") == "spawn");
    CHECK(first.at("output") == json{{"spawned", true}});
    CHECK(first.at("trace").is_null());
    CHECK(first.at("status") == "succeeded");
    CHECK(first.at("dependsOn") == json::array());
    CHECK(first.at("children") == json{"0-0"});
    CHECK(first.at("attempts") == 1);
    CHECK(first.at("history").size() == 3);
    CHECK(first.at("history").at(0).at("status") == "pending");
    CHECK(first.at("history").at(1).at("status") == "started");
    CHECK(first.at("history").at(2).at("status") == "succeeded");
    std::set<std::string> keys;
    for (const auto& [key, value] : first.items()) keys.insert(key);
    CHECK(keys == std::set<std::string>{"id", "parentId", "depth", "service", "command", "input", "output", "trace",
                                        "status", "dependsOn", "children", "attempts", "startedAt", "completedAt",
                                        "history"});
    CHECK(j.at("tasks").at(1).at("parentId") == "0");
    CHECK(j.at("tasks").at(2).at("id") == "last");

    CHECK(j.get<JobResult>() == result);  // and back, unchanged
}

TEST_CASE("A batch of tasks becomes pending at one instant", "[result]") {
    const auto registry = basic_registry();
    // Large enough batches that adding them one by one would span several microseconds.
    json children = json::array();
    for (int i = 0; i < 500; ++i) children.push_back(child("t", "echo", {{"x", i}}));
    std::vector<TaskSpec> tasks{task("t", "spawn", {{"children", children}})};
    for (int i = 0; i < 1000; ++i) tasks.push_back(task("t", "echo"));
    JobSpec spec = job(tasks);
    spec.limits.max_tasks = 1501;
    const auto result = run(registry, spec, any_worker_count());
    INFO(result.error_message.value_or(""));
    REQUIRE(result.tasks.size() == 1501);
    // The initial tasks are pending from the job's start; the spawned batch from its parent's end.
    const auto& parent = result.at("0");
    REQUIRE(parent.history.back().status == TaskStatus::succeeded);
    std::size_t initial = 0;
    std::size_t spawned = 0;
    for (const auto& record : result.tasks) {
        const Timestamp expected = record.parent_id ? parent.history.back().at : result.started_at;
        CHECK(record.history.front().at == expected);
        ++(record.parent_id ? spawned : initial);
    }
    CHECK(initial == 1001);
    CHECK(spawned == 500);
}

TEST_CASE("Tasks are ordered by start, never-started last, and history times never go back", "[result]") {
    const auto registry = basic_registry();
    // Created d, e, c, b, a; one task at a time can start: a, b, c, d. e never starts (d fails).
    JobSpec spec = job({task("t", "fail", {}, {"c"}, "d"), task("t", "echo", {}, {"d"}, "e"), named("c", {"b"}),
                        named("b", {"a"}), named("a")});
    spec.abort_on_failure = false;
    const auto result = run(registry, spec, 1);
    CHECK(ids_of(result) == std::vector<std::string>{"a", "b", "c", "d", "e"});
    CHECK(result.tasks.back().status == TaskStatus::aborted);
    CHECK_FALSE(result.tasks.back().started_at.has_value());
    for (const auto& record : result.tasks) {
        for (std::size_t i = 1; i < record.history.size(); ++i) CHECK(record.history[i - 1].at <= record.history[i].at);
        REQUIRE(record.completed_at.has_value());
        CHECK(*record.completed_at == record.history.back().at);
    }
    CHECK(result.history.size() == 2);
    CHECK(result.history.front().status == JobStatus::running);
    CHECK(result.history.back().status == JobStatus::failed);
}
