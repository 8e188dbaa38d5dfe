// Section 6: deadlock detection, the last safety layer. Cycle checking normally makes a
// deadlock impossible, so these tests switch it off to reach the safety net.
#include "helpers.hpp"

using namespace jobgraph;
using namespace jobgraph::testing;

TEST_CASE("Tasks that can never start are aborted and the job names them", "[deadlock]") {
    const auto registry = basic_registry();
    // A-0 depends on B while B depends on A: a join-wait cycle the checker would have refused.
    const json children = json::array({child("t", "echo", {}, {"B"})});
    JobSpec spec = job({task("t", "spawn", {{"children", children}}, {}, "A"), named("B", {"A"}), named("free")});
    const Orchestrator orchestrator(registry, {.workers = any_worker_count(), .unsafe_skip_cycle_check = true});
    const auto result = orchestrator.run(spec);
    CHECK(result.status == JobStatus::failed);
    CHECK(result.error_message ==
          std::optional<std::string>("Deadlock detected: 2 tasks cannot execute. Incomplete tasks: B, A-0"));
    CHECK(result.at("A").status == TaskStatus::succeeded);
    CHECK(result.at("free").status == TaskStatus::succeeded);
    CHECK(result.at("B").status == TaskStatus::aborted);
    CHECK(result.at("A-0").status == TaskStatus::aborted);
    CHECK(result.at("A-0").output == json{{"error", "Deadlock detected: task cannot execute"}});
}

TEST_CASE("With cycle checking on, the same job is refused at the spawn instead", "[deadlock]") {
    const auto registry = basic_registry();
    const json children = json::array({child("t", "echo", {}, {"B"})});
    JobSpec spec = job({task("t", "spawn", {{"children", children}}, {}, "A"), named("B", {"A"})});
    const auto result = run(registry, spec, any_worker_count());
    CHECK_FALSE(result.error_message.has_value());
    CHECK(result.at("A").status == TaskStatus::failed);
}
