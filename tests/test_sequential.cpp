// Section 1, mode "sequential": each root waits until the root before it settled.
#include "helpers.hpp"

#include <mutex>

using namespace jobgraph;
using namespace jobgraph::testing;

TEST_CASE("Sequential roots run one after another, each after the previous one's children", "[sequential]") {
    std::mutex mutex;
    std::vector<std::string> order;
    HandlerRegistry registry;
    registry.add("s", "step", [&](TaskContext& ctx) {
        {
            std::lock_guard lock(mutex);
            order.push_back(ctx.id());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(ctx.input().value("ms", 0)));
        if (ctx.input().value("fail", false)) throw std::runtime_error("step failed");
        return json{{"childTasks", ctx.input().value("children", json::array())}};
    });
    const json kids = json::array({child("s", "step", {{"ms", 20}}), child("s", "step", {{"ms", 10}})});
    JobSpec spec = job(
        {task("s", "step", {{"children", kids}}), task("s", "step", {{"fail", true}}), task("s", "step", {{"ms", 1}})});
    spec.mode = Mode::sequential;
    spec.abort_on_failure = false;
    const auto result = run(registry, spec, any_worker_count());
    REQUIRE(order.size() == 5);
    CHECK(order[0] == "0");
    std::vector<std::string> children(order.begin() + 1, order.begin() + 3);
    std::sort(children.begin(), children.end());
    CHECK(children == std::vector<std::string>{"0-0", "0-1"});  // root 1 waited for root 0's children
    CHECK(order[3] == "1");
    CHECK(order[4] == "2");  // runs although root 1 failed: sequential waits for settling, not success
    CHECK(result.at("2").status == TaskStatus::succeeded);
    CHECK(result.status == JobStatus::failed);
}

TEST_CASE("Sequential mode keeps declared dependencies too", "[sequential]") {
    const auto registry = basic_registry();
    JobSpec spec = job({task("t", "fail", {}, {}, "a"), named("b"), named("c", {"a"})});
    spec.mode = Mode::sequential;
    spec.abort_on_failure = false;
    const auto result = run(registry, spec, any_worker_count());
    CHECK(result.at("b").status == TaskStatus::succeeded);
    CHECK(result.at("c").status == TaskStatus::aborted);
    CHECK(ids_of(result) == std::vector<std::string>{"a", "b", "c"});
}
