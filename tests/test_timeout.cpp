// Section 6: the job timeout is enforced while handlers run.
#include "helpers.hpp"

#include <cstdint>
#include <limits>

using namespace jobgraph;
using namespace jobgraph::testing;
using namespace std::chrono_literals;

TEST_CASE("The timeout fires while a slow handler runs, and the run returns soon after", "[timeout]") {
    const auto registry = basic_registry();
    const std::size_t workers = any_worker_count();
    // "quick" comes first so that even a single worker runs it before the slow one.
    JobSpec spec = job({named("quick"), task("t", "sleep", {{"ms", 10000}}, {}, "slow"), named("after", {"slow"})});
    spec.limits.timeout = 100ms;
    const auto started = std::chrono::steady_clock::now();
    const auto result = run(registry, spec, workers);
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(took >= 100ms);
    CHECK(took < 2s);  // generous: the handler checks its stop token every millisecond
    CHECK(result.status == JobStatus::failed);
    REQUIRE(result.error_message.has_value());
    CHECK_THAT(
        *result.error_message,
        Catch::Matches(R"(Job execution timeout: 100ms limit exceeded\. Elapsed: \d+ms\. Completed 1/3 tasks\.)"));
    CHECK(result.at("slow").status == TaskStatus::aborted);
    CHECK(result.at("quick").status == TaskStatus::succeeded);
    CHECK(result.at("after").status == TaskStatus::aborted);
    CHECK(result.at("after").output == json{{"error", "Job execution timeout: 100ms limit exceeded"}});
    CHECK(result.at("after").attempts == 0);
}

TEST_CASE("A handler that ignores the stop request keeps its result", "[timeout]") {
    HandlerRegistry registry;
    registry.add("r", "stubborn", [](TaskContext&) {
        std::this_thread::sleep_for(150ms);
        return json{{"done", true}};
    });
    JobSpec spec = job({task("r", "stubborn")});
    spec.limits.timeout = 30ms;
    const auto result = run(registry, spec, 1);
    CHECK(result.status == JobStatus::failed);
    CHECK(result.at("0").status == TaskStatus::succeeded);
    CHECK(result.at("0").output == json{{"done", true}});
    CHECK_THAT(*result.error_message, Catch::Contains("Completed 0/1 tasks."));
}

TEST_CASE("A job that finishes in time is not affected by its timeout", "[timeout]") {
    const auto registry = basic_registry();
    JobSpec spec = job({named("a"), named("b", {"a"})});
    spec.limits.timeout = 10000ms;
    const auto result = run(registry, spec, any_worker_count());
    CHECK(result.status == JobStatus::succeeded);
    CHECK_FALSE(result.error_message.has_value());
}

TEST_CASE("A timeout too large for the clock means no limit, not an instant expiry", "[timeout]") {
    const auto registry = basic_registry();
    JobSpec spec = job({named("a"), named("b", {"a"})});
    spec.limits.timeout = std::chrono::milliseconds(std::numeric_limits<std::int64_t>::max());
    const auto result = Orchestrator(registry, {.workers = 2}).run(spec);
    CHECK(result.status == JobStatus::succeeded);
    CHECK_FALSE(result.error_message.has_value());
    CHECK(result.stats.succeeded == 2);
}
