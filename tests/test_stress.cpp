// Thousands of random jobs with random spawns and failures, checked against the invariants:
// each handler runs at most once per task, nothing starts before its dependencies and their
// descendants ended (nor, with abortOnFailure, after the first failure), every task ends in a
// final status with its history in time order, and the stats add up.
#include "run_probes.hpp"

#include <array>
#include <cmath>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

using namespace jobgraph;
using namespace jobgraph::testing;
using namespace std::chrono_literals;

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
            // A start that the job's stop withdrew before its handler was called is an attempt.
            REQUIRE((called == record.attempts || (may_be_uncalled(record) && called == record.attempts - 1)));
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

// The same, with what a run does over time: retries with delays and jitter, per-attempt
// timeouts (handlers that honour their stop token and handlers that ignore it), concurrency
// limits, priorities, asynchronous handlers, job timeouts, and a cancel or interrupt at a
// random moment.
namespace {

// What the handlers of a random run note: every call, and the asynchronous ones' threads.
struct RunNotes {
    CallLog log;
    std::mutex threads_mutex;
    std::vector<std::thread> threads;

    ~RunNotes() { join(); }
    void join() {
        std::vector<std::thread> done;
        {
            const std::lock_guard lock(threads_mutex);
            done.swap(threads);
        }
        for (auto& thread : done) thread.join();
    }
};

// Runs for input.sleepUs, checking its stop token if input.honour; spawns input.children (each
// {"service", "command", "input", and optionally "retry", "timeoutMs", "priority"}) through its
// context on every attempt, then fails while its attempt is at most input.failures.
json run_step(TaskContext& ctx) {
    const json& input = ctx.input();
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(input.value("sleepUs", 0));
    while (std::chrono::steady_clock::now() < until) {
        if (input.value("honour", true)) ctx.throw_if_stop_requested();
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    for (const json& c : input.value("children", json::array())) {
        TaskSpec spec = task(c.at("service").get<std::string>(), c.at("command").get<std::string>(), c.at("input"));
        if (c.contains("retry")) {
            const json& retry = c.at("retry");
            spec.retry = retry_policy(retry.at(0).get<int>(), std::chrono::milliseconds(retry.at(1).get<int>()), 1.5,
                                      5ms, retry.at(2).get<bool>());
        }
        if (c.contains("timeoutMs")) spec.timeout = std::chrono::milliseconds(c.at("timeoutMs").get<int>());
        if (c.contains("priority")) spec.priority = c.at("priority").get<int>();
        ctx.spawn(std::move(spec));
    }
    if (ctx.attempt() <= input.value("failures", 0)) throw std::runtime_error(fmt::format("fail {}", ctx.attempt()));
    return json{{"attempt", ctx.attempt()}};
}

HandlerRegistry timed_registry(RunNotes& notes) {
    HandlerRegistry registry;
    for (const char* command : {"x", "y"}) {
        registry.add("a", command, [&notes](TaskContext& ctx) {
            const auto call = notes.log.scope(ctx);
            return run_step(ctx);
        });
    }
    registry.add("b", "x", [&notes](TaskContext& ctx) {
        const auto call = notes.log.scope(ctx);
        return run_step(ctx);
    });
    // Asynchronous: fulfils its completion during the call or from a thread of its own.
    registry.add_async("c", "x", [&notes](TaskContext& ctx, Completion done) {
        const std::size_t call = notes.log.enter(ctx);
        const bool fail = ctx.attempt() <= ctx.input().value("failures", 0);
        const int attempt = ctx.attempt();
        const int sleep_us = ctx.input().value("sleepUs", 0);
        const auto finish = [&notes, call, fail, attempt](const Completion& completion) {
            notes.log.leave(call);
            if (fail) {
                completion.fail(fmt::format("fail {}", attempt));
            } else {
                completion.succeed(json{{"attempt", attempt}});
            }
        };
        if (sleep_us == 0) return finish(done);
        const std::lock_guard lock(notes.threads_mutex);
        notes.threads.emplace_back([finish, sleep_us, done = std::move(done)] {
            std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
            finish(done);
        });
    });
    return registry;
}

class RandomTimedJob {
public:
    explicit RandomTimedJob(std::uint32_t seed) : rng_(seed) {}

    JobSpec make() {
        JobSpec spec;
        spec.name = "random-timed";
        const int roots = pick(1, 15);
        for (int i = 0; i < roots; ++i) {
            TaskSpec t = random_task(0);
            t.id = std::to_string(i);
            for (int d = 0; d < i; ++d) {
                if (chance(0.15)) t.depends_on.push_back(std::to_string(d));
            }
            spec.tasks.push_back(std::move(t));
        }
        spec.abort_on_failure = chance(0.5);
        if (chance(0.1)) spec.limits.timeout = std::chrono::milliseconds(pick(5, 30));
        if (chance(0.3)) spec.task_defaults.retry = retry_policy(pick(1, 3), std::chrono::milliseconds(pick(0, 3)), 2.0, 5ms, chance(0.5));
        if (chance(0.2)) spec.task_defaults.timeout = std::chrono::milliseconds(pick(3, 10));
        if (chance(0.5)) spec.concurrency["a"] = pick(1, 3);
        if (chance(0.3)) spec.concurrency["a/y"] = 1;
        if (chance(0.3)) spec.concurrency["c"] = pick(1, 2);
        return spec;
    }

    int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng_); }
    bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }

private:
    static constexpr std::array<std::pair<const char*, const char*>, 4> kinds{
        {{"a", "x"}, {"a", "y"}, {"b", "x"}, {"c", "x"}}};

    json random_input(int depth) {
        json input{{"failures", chance(0.6) ? 0 : pick(1, 3)},
                   {"sleepUs", chance(0.25) ? pick(1, 2000) : chance(0.05) ? 15000 : 0},
                   {"honour", chance(0.7)}};
        if (depth < 2 && chance(depth == 0 ? 0.3 : 0.15)) {
            json children = json::array();
            for (int i = pick(1, 3); i > 0; --i) {
                const auto& [service, command] = kinds[static_cast<std::size_t>(pick(0, 3))];
                json c{{"service", service}, {"command", command}, {"input", random_input(depth + 1)}};
                if (chance(0.5)) c["retry"] = json::array({pick(1, 3), pick(0, 3), chance(0.5)});
                if (chance(0.15)) c["timeoutMs"] = pick(3, 10);
                if (chance(0.5)) c["priority"] = pick(-2, 2);
                children.push_back(std::move(c));
            }
            input["children"] = std::move(children);
        }
        return input;
    }

    TaskSpec random_task(int depth) {
        const auto& [service, command] = kinds[static_cast<std::size_t>(pick(0, 3))];
        TaskSpec t = task(service, command, random_input(depth));
        if (chance(0.5)) t.retry = retry_policy(pick(1, 3), std::chrono::milliseconds(pick(0, 3)), 1.5, 5ms, chance(0.5));
        if (chance(0.15)) t.timeout = std::chrono::milliseconds(pick(3, 10));
        if (chance(0.5)) t.priority = pick(-2, 2);
        return t;
    }

    std::mt19937 rng_;
};

// The longest delay a policy allows before attempt k + 1 (k >= 1).
long long computed_delay(const RetryPolicy& retry, int k) {
    const double grown = static_cast<double>(retry.delay.count()) * std::pow(retry.backoff, k - 1);
    return static_cast<long long>(std::min(grown, static_cast<double>(retry.max_delay.count())));
}

}  // namespace

TEST_CASE("Random jobs with retries, timeouts, limits, priorities and stops keep every invariant",
          "[stress][retry]") {
    const std::size_t workers = any_worker_count();
    for (std::uint32_t seed = 1; seed <= 120; ++seed) {
        INFO("seed " << seed << ", workers " << workers);
        RunNotes notes;
        const auto registry = timed_registry(notes);
        RandomTimedJob random(seed);
        const JobSpec spec = random.make();
        // A stop from outside in three jobs out of ten, at a random moment (perhaps after the end).
        const int stop_kind = random.chance(0.3) ? random.pick(1, 2) : 0;
        const auto stop_after = std::chrono::microseconds(random.pick(0, 4000));
        RunControl control;
        Timestamp stopped_by = Timestamp::max();
        std::thread stopper([&, control]() mutable {
            if (stop_kind == 0) return;
            std::this_thread::sleep_for(stop_after);
            if (stop_kind == 1) {
                control.cancel("random stop");
            } else {
                control.interrupt();
            }
            stopped_by = now_utc();
        });
        // A long grace: every asynchronous call comes back (within milliseconds) before the
        // next attempt of its task, so that no two calls of a task may overlap.
        const auto result = Orchestrator(registry, {.workers = workers, .grace_period = 10000ms, .jitter_seed = seed})
                                .run(spec, nullptr, &control);
        stopper.join();
        notes.join();

        // No task ran two attempts at once, and no key exceeded its limit.
        REQUIRE(notes.log.overlapping_tasks().empty());
        for (const auto& [key, limit] : spec.concurrency) {
            INFO("key " << key);
            REQUIRE(notes.log.peak(key) <= limit);
        }

        const JobStats counted = count_statuses(result.tasks);
        REQUIRE(result.stats == JobStats{counted.total, counted.succeeded, counted.failed, counted.aborted,
                                         counted.planned, counted.pending, counted.retrying, result.stats.wall_ms});
        if (result.status == JobStatus::cancelled) {
            REQUIRE(stop_kind == 1);
            REQUIRE(result.error_message == std::optional<std::string>("Job cancelled: random stop"));
        }
        if (result.status == JobStatus::interrupted) REQUIRE(stop_kind == 2);
        if (result.status == JobStatus::cancelled || result.status == JobStatus::interrupted) {
            for (const Timestamp start : [&] {
                     std::vector<Timestamp> starts;
                     for (const auto& record : result.tasks) {
                         for (const auto& entry : record.history) {
                             if (entry.status == TaskStatus::started) starts.push_back(entry.at);
                         }
                     }
                     return starts;
                 }()) {
                REQUIRE(start <= stopped_by);
            }
        }

        for (const auto& record : result.tasks) {
            INFO("task " << record.id);
            const int calls = notes.log.calls_of(record.id);
            const int expected_calls = record.attempts - uncalled_starts(record);
            if (may_be_uncalled(record)) {
                REQUIRE((calls == expected_calls || calls == expected_calls - 1));
            } else {
                REQUIRE(calls == expected_calls);
            }
            REQUIRE(started_entries(record) == record.attempts);
            REQUIRE(record.attempts <= record.retry.max_attempts);
            REQUIRE(record.status != TaskStatus::started);
            if (result.status == JobStatus::interrupted) {
                REQUIRE((is_final(record.status) || record.status == TaskStatus::pending ||
                         record.status == TaskStatus::retrying));
                if (record.status == TaskStatus::retrying) REQUIRE(record.next_attempt_at.has_value());
            } else {
                REQUIRE(is_final(record.status));
                REQUIRE(record.completed_at == record.history.back().at);
            }
            for (std::size_t i = 1; i < record.history.size(); ++i) {
                REQUIRE(record.history[i - 1].at <= record.history[i].at);
            }
            if (record.started_at) REQUIRE(*record.started_at == record.history.at(1).at);
            if (record.status == TaskStatus::succeeded) REQUIRE(record.output == json{{"attempt", record.attempts}});
            // Children only from the attempt that succeeded, and all of its batch or none.
            const std::size_t batch = record.input.value("children", json::array()).size();
            if (record.status != TaskStatus::succeeded) REQUIRE(record.children.empty());
            REQUIRE((record.children.empty() || record.children.size() == batch));
            // Every retry waited for its delay, within what the policy allows.
            const auto delays = retry_delays(record);
            const auto gaps = retry_gaps_us(record);
            REQUIRE(gaps.size() <= delays.size());
            for (std::size_t k = 0; k < delays.size(); ++k) {
                REQUIRE(delays[k] >= 0);
                REQUIRE(delays[k] <= computed_delay(record.retry, static_cast<int>(k) + 1));
                if (!record.retry.jitter) REQUIRE(delays[k] == computed_delay(record.retry, static_cast<int>(k) + 1));
                if (k < gaps.size()) REQUIRE(gaps[k] >= delays[k] * 1000);
            }
            // A started task's dependencies (not its ancestors) and all they spawned ended first.
            if (record.attempts == 0) continue;
            std::uint64_t first_call = 0;
            std::map<std::string, std::uint64_t> last_end;
            for (const auto& call : notes.log.calls()) {
                if (call.task == record.id && first_call == 0) first_call = call.began;
                last_end[call.task] = std::max(last_end[call.task], call.ended);
            }
            if (first_call == 0) continue;  // its only start was withdrawn by a stop
            for (const auto& dep : record.depends_on) {
                if (is_ancestor(result, dep, record)) continue;
                std::vector<const TaskRecord*> subtree;
                collect_subtree(result, dep, subtree);
                for (const TaskRecord* member : subtree) {
                    REQUIRE(member->status == TaskStatus::succeeded);
                    REQUIRE(last_end.at(member->id) < first_call);
                }
            }
        }
    }
}
