// Section 3 and the limits of section 4: ids, depth, maxDepth and maxTasks.
#include "helpers.hpp"

using namespace jobgraph;
using namespace jobgraph::testing;

TEST_CASE("Roots get their position as id, children <parent>-<i>, explicit ids are kept", "[ids]") {
    const auto registry = basic_registry();
    const std::size_t workers = any_worker_count();
    const json grandchildren = json::array({child("t", "echo"), child("t", "echo", {}, {}, "named")});
    JobSpec spec = job({
        task("t", "spawn",
             {{"children", json::array({child("t", "echo"), child("t", "spawn", {{"children", grandchildren}})})}}),
        task("t", "echo", {}, {}, "custom"),
        task("t", "echo"),
    });
    const auto result = run(registry, spec, workers);
    REQUIRE(result.status == JobStatus::succeeded);
    auto sorted = ids_of(result);
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == std::vector<std::string>{"0", "0-0", "0-1", "0-1-0", "2", "custom", "named"});
    CHECK(result.at("0").children == std::vector<std::string>{"0-0", "0-1"});
    CHECK(result.at("0-1").children == std::vector<std::string>{"0-1-0", "named"});
    CHECK(result.at("named").parent_id == std::optional<std::string>("0-1"));
    CHECK(result.at("0").parent_id == std::nullopt);
}

TEST_CASE("Depth is explicit: roots 0, children their parent's plus one", "[ids]") {
    const auto registry = basic_registry();
    // A child with an explicit id that looks like a root id still has depth 1.
    JobSpec spec = job({task("t", "spawn", {{"children", json::array({child("t", "echo", {}, {}, "7")})}})});
    const auto result = run(registry, spec, any_worker_count());
    CHECK(result.at("0").depth == 0);
    CHECK(result.at("7").depth == 1);
}

TEST_CASE("A task at maxDepth cannot spawn, one above it may", "[ids][limits]") {
    const auto registry = basic_registry();
    const std::size_t workers = any_worker_count();
    // 0 (depth 0) -> 0-0 (depth 1) -> 0-0-0 (depth 2, = maxDepth) tries to spawn.
    const json level3 = json::array({child("t", "echo")});
    const json level2 = json::array({child("t", "spawn", {{"children", level3}})});
    const json level1 = json::array({child("t", "spawn", {{"children", level2}})});
    JobSpec spec = job({task("t", "spawn", {{"children", level1}})});
    spec.limits.max_depth = 2;
    const auto result = run(registry, spec, workers);
    CHECK(result.status == JobStatus::failed);
    CHECK(result.at("0-0").status == TaskStatus::succeeded);
    CHECK(result.at("0-0-0").depth == 2);
    CHECK(result.at("0-0-0").status == TaskStatus::failed);
    CHECK(result.at("0-0-0").output == json{{"error",
                                             "Task depth limit exceeded: 2 levels maximum. Task 0-0-0 attempted to "
                                             "spawn child at depth 3. Child ID: 0-0-0-0"}});
    CHECK(result.at("0-0-0").children.empty());
    CHECK(result.stats.total == 3);

    spec.limits.max_depth = 3;
    CHECK(run(registry, spec, workers).status == JobStatus::succeeded);
}

TEST_CASE("Exactly maxTasks tasks is fine, one more fails the spawner and adds no child", "[ids][limits]") {
    const auto registry = basic_registry();
    const std::size_t workers = any_worker_count();
    const json three = json::array({child("t", "echo"), child("t", "echo"), child("t", "echo")});
    JobSpec spec = job({task("t", "spawn", {{"children", three}}), task("t", "echo")});
    spec.limits.max_tasks = 5;
    const auto ok = run(registry, spec, workers);
    CHECK(ok.status == JobStatus::succeeded);
    CHECK(ok.stats.total == 5);

    spec.limits.max_tasks = 4;
    const auto over = run(registry, spec, workers);
    CHECK(over.status == JobStatus::failed);
    CHECK(over.stats.total == 2);
    CHECK(over.at("0").status == TaskStatus::failed);
    CHECK(over.at("0").children.empty());
    CHECK(over.at("0").output ==
          json{{"error", "Task limit exceeded: 4 tasks maximum. Task 0 attempted to spawn child 0-2."}});
}

TEST_CASE("Concurrent spawners never overshoot maxTasks", "[ids][limits]") {
    const auto registry = basic_registry();
    const std::size_t workers = any_worker_count();
    json children = json::array();
    for (int i = 0; i < 10; ++i) children.push_back(child("t", "echo"));
    std::vector<TaskSpec> spawners;
    for (int i = 0; i < 20; ++i) spawners.push_back(task("t", "spawn", {{"children", children}}));
    JobSpec spec = job(spawners);
    spec.limits.max_tasks = 125;  // room for 10 batches of 10, not 11
    spec.abort_on_failure = false;
    for (int round = 0; round < 10; ++round) {
        const auto result = run(registry, spec, workers);
        CHECK(result.stats.total == 120);
        CHECK(result.stats.failed == 10);
        CHECK(result.stats.succeeded == 110);
    }
}
