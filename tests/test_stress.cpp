// Thousands of random jobs with random spawns and failures, checked against the invariants:
// each handler runs at most once per task, nothing starts before its dependencies and their
// descendants ended (nor, with abortOnFailure, after the first failure), every task ends in a
// final status with its history in time order, and the stats add up.
#include "helpers.hpp"

#include <mutex>
#include <random>
#include <unordered_map>

using namespace jobgraph;
using namespace jobgraph::testing;

namespace {

struct Calls {
    std::mutex mutex;
    std::atomic<std::uint64_t> clock{0};
    std::unordered_map<std::string, int> count;
    std::unordered_map<std::string, std::uint64_t> started;
    std::unordered_map<std::string, std::uint64_t> ended;
};

class RandomJob {
public:
    explicit RandomJob(std::uint32_t seed) : rng_(seed) {}

    JobSpec make() {
        JobSpec spec;
        spec.name = "random";
        const int roots = pick(1, 25);
        for (int i = 0; i < roots; ++i) {
            TaskSpec t = task("r", "run", node_input(std::to_string(i), 0, roots));
            for (int d = 0; d < i; ++d) {
                if (chance(0.15)) t.depends_on.push_back(std::to_string(d));
            }
            spec.tasks.push_back(std::move(t));
        }
        spec.abort_on_failure = chance(0.5);
        spec.mode = chance(0.15) ? Mode::sequential : Mode::parallel;
        spec.limits.max_tasks = chance(0.3) ? pick(roots, roots + 20) : 100000;
        spec.limits.max_depth = pick(1, 4);
        return spec;
    }

private:
    json node_input(const std::string& id, int depth, int roots) {
        json input{{"fail", chance(0.04)}, {"sleepUs", chance(0.1) ? pick(1, 300) : 0}};
        if (depth < 4 && chance(depth == 0 ? 0.35 : 0.2)) {
            json children = json::array();
            const int count = pick(1, 4);
            for (int i = 0; i < count; ++i) {
                const std::string child_id = id + "-" + std::to_string(i);
                json c = child("r", "run", node_input(child_id, depth + 1, roots));
                json deps = json::array();
                if (i > 0 && chance(0.3)) deps.push_back(id + "-" + std::to_string(pick(0, i - 1)));
                if (i + 1 < count && chance(0.1)) deps.push_back(id + "-" + std::to_string(count - 1));  // forward
                if (chance(0.1)) deps.push_back(std::to_string(pick(0, roots - 1)));  // may close a cycle
                if (chance(0.1)) deps.push_back(id);                                  // own parent
                if (!deps.empty()) c["dependsOn"] = deps;
                children.push_back(std::move(c));
            }
            input["children"] = std::move(children);
        }
        return input;
    }

    int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng_); }
    bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }

    std::mt19937 rng_;
};

HandlerRegistry counting_registry(Calls& calls) {
    HandlerRegistry registry;
    registry.add("r", "run", [&calls](TaskContext& ctx) {
        {
            std::lock_guard lock(calls.mutex);
            ++calls.count[ctx.id()];
            calls.started[ctx.id()] = calls.clock++;
        }
        if (const int us = ctx.input().value("sleepUs", 0)) std::this_thread::sleep_for(std::chrono::microseconds(us));
        const bool fail = ctx.input().value("fail", false);
        {
            std::lock_guard lock(calls.mutex);
            calls.ended[ctx.id()] = calls.clock++;
        }
        if (fail) throw std::runtime_error("random failure");
        return json{{"childTasks", ctx.input().value("children", json::array())}};
    });
    return registry;
}

void collect_subtree(const JobResult& result, const std::string& id, std::vector<const TaskRecord*>& out) {
    const TaskRecord& record = result.at(id);
    out.push_back(&record);
    for (const auto& c : record.children) collect_subtree(result, c, out);
}

bool is_ancestor(const JobResult& result, const std::string& ancestor, const TaskRecord& task) {
    for (auto parent = task.parent_id; parent; parent = result.at(*parent).parent_id) {
        if (*parent == ancestor) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("Random jobs keep every invariant", "[stress]") {
    const std::size_t workers = any_worker_count();
    for (std::uint32_t seed = 1; seed <= 600; ++seed) {
        INFO("seed " << seed << ", workers " << workers);
        Calls calls;
        const auto registry = counting_registry(calls);
        const JobSpec spec = RandomJob(seed).make();
        const auto result = run(registry, spec, workers);

        const JobStats counted = count_statuses(result.tasks);
        REQUIRE(result.stats.total == result.tasks.size());
        REQUIRE(counted.succeeded + counted.failed + counted.aborted + counted.planned == result.stats.total);
        REQUIRE(counted.pending == 0);
        REQUIRE(result.stats.succeeded == counted.succeeded);
        REQUIRE(static_cast<std::int64_t>(result.stats.total) <= spec.limits.max_tasks);
        REQUIRE((result.status == JobStatus::succeeded) == (counted.succeeded == result.stats.total));

        // With abortOnFailure, nothing starts after the first failure.
        if (spec.abort_on_failure) {
            std::optional<Timestamp> first_failure;
            for (const auto& record : result.tasks) {
                if (record.status == TaskStatus::failed && (!first_failure || *record.completed_at < *first_failure)) {
                    first_failure = record.completed_at;
                }
            }
            for (const auto& record : result.tasks) {
                if (first_failure && record.started_at) REQUIRE(*record.started_at <= *first_failure);
            }
        }

        for (const auto& record : result.tasks) {
            const auto it = calls.count.find(record.id);
            const int called = it == calls.count.end() ? 0 : it->second;
            REQUIRE(called <= 1);
            REQUIRE(called == record.attempts);
            REQUIRE(is_final(record.status));
            REQUIRE(record.depth <= spec.limits.max_depth);
            // History in time order; the start and end fields are its entries' times.
            for (std::size_t i = 1; i < record.history.size(); ++i) {
                REQUIRE(record.history[i - 1].at <= record.history[i].at);
            }
            REQUIRE(record.completed_at == record.history.back().at);
            if (record.started_at) {
                REQUIRE(record.history.size() >= 3);
                REQUIRE(record.history[1].status == TaskStatus::started);
                REQUIRE(*record.started_at == record.history[1].at);
            }
            if (record.status == TaskStatus::succeeded || record.status == TaskStatus::failed) REQUIRE(called == 1);
            if (called == 0) continue;
            // Every declared dependency (not an ancestor) and all it spawned ended before this start.
            for (const auto& dep : record.depends_on) {
                if (is_ancestor(result, dep, record)) continue;
                std::vector<const TaskRecord*> subtree;
                collect_subtree(result, dep, subtree);
                for (const TaskRecord* member : subtree) {
                    REQUIRE(member->status == TaskStatus::succeeded);
                    REQUIRE(calls.ended.at(member->id) < calls.started.at(record.id));
                }
            }
        }
    }
}
