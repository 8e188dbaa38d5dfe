// Section 8: plan mode plans side-effecting children instead of running them.
#include "helpers.hpp"

using namespace jobgraph;
using namespace jobgraph::testing;

TEST_CASE("In plan mode, side-effecting children are planned and their dependents too", "[plan]") {
    const auto registry = basic_registry();
    const json children = json::array({
        child("t", "side", {{"write", "report.csv"}}, {}, "write"),
        child("t", "echo", {}, {}, "preview"),
        child("t", "echo", {}, {"write"}, "notify"),
    });
    JobSpec spec = job({task("t", "spawn", {{"children", children}}, {}, "planner"),
                        task("t", "side", {}, {}, "root-side"), named("after", {"planner"})});
    spec.require_approval = true;
    const auto result = run(registry, spec, any_worker_count());
    CHECK(result.status == JobStatus::awaiting_approval);
    CHECK(result.at("root-side").status == TaskStatus::succeeded);  // initial tasks are never planned
    CHECK(result.at("preview").status == TaskStatus::succeeded);
    CHECK(result.at("write").status == TaskStatus::planned);
    CHECK(result.at("write").attempts == 0);
    CHECK(result.at("write").history.back().reason == "Awaiting approval: t/side has side effects");
    CHECK(result.at("notify").status == TaskStatus::planned);
    CHECK(result.at("notify").history.back().reason == "Awaiting approval: a dependency is planned");
    CHECK(result.at("after").status == TaskStatus::planned);  // its dependency's subtree holds planned work
    CHECK(result.stats.planned == 3);
    CHECK_FALSE(result.error_message.has_value());
}

TEST_CASE("Without plan mode the same job runs everything", "[plan]") {
    const auto registry = basic_registry();
    const json children = json::array({child("t", "side", {}, {}, "write"), child("t", "echo", {}, {"write"})});
    const auto result = run(registry, job({task("t", "spawn", {{"children", children}})}), any_worker_count());
    CHECK(result.status == JobStatus::succeeded);
    CHECK(result.stats.succeeded == 3);
}

TEST_CASE("A failure outweighs planned work", "[plan]") {
    const auto registry = basic_registry();
    const json children = json::array({child("t", "side"), child("t", "fail")});
    JobSpec spec = job({task("t", "spawn", {{"children", children}})});
    spec.require_approval = true;
    const auto result = run(registry, spec, any_worker_count());
    CHECK(result.status == JobStatus::failed);
    CHECK(result.at("0-0").status == TaskStatus::planned);
    CHECK(result.at("0-1").status == TaskStatus::failed);
}
