#pragma once
// Shared fixtures: a registry of small handlers, job builders and a run helper.

#include <jobgraph/jobgraph.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace jobgraph::testing {

using nlohmann::json;

/// Scheduling tests run at every width, so that ordering bugs show at each.
inline std::size_t any_worker_count() {
    return GENERATE(as<std::size_t>{}, 1, 2, 4, 8);
}

inline TaskSpec task(std::string service, std::string command, json input = json::object(),
                     std::vector<std::string> depends_on = {}, std::optional<std::string> id = std::nullopt) {
    return TaskSpec{std::move(id), std::move(service), std::move(command), std::move(input), std::move(depends_on)};
}

inline TaskSpec named(std::string id, std::vector<std::string> depends_on = {}, json input = json::object()) {
    return task("t", "echo", std::move(input), std::move(depends_on), std::move(id));
}

inline JobSpec job(std::vector<TaskSpec> tasks, std::string name = "test-job") {
    JobSpec spec;
    spec.name = std::move(name);
    spec.tasks = std::move(tasks);
    return spec;
}

/// "t/echo" returns its input; "t/fail" throws input.message; "t/spawn" returns
/// {"childTasks": input.children}; "t/sleep" sleeps input.ms honouring the stop token;
/// "t/side" has side effects (not allowed in plan mode).
inline HandlerRegistry basic_registry() {
    HandlerRegistry registry;
    registry.add("t", "echo", [](TaskContext& ctx) { return ctx.input(); }, {.side_effect_free = true});
    registry.add(
        "t", "fail",
        [](TaskContext& ctx) -> json { throw std::runtime_error(ctx.input().value("message", std::string("boom"))); },
        {.side_effect_free = true});
    registry.add(
        "t", "spawn",
        [](TaskContext& ctx) {
            return json{{"childTasks", ctx.input().value("children", json::array())}, {"output", {{"spawned", true}}}};
        },
        {.side_effect_free = true});
    registry.add("t", "sleep",
                 [](TaskContext& ctx) {
                     const auto until =
                         std::chrono::steady_clock::now() + std::chrono::milliseconds(ctx.input().value("ms", 0));
                     while (std::chrono::steady_clock::now() < until) {
                         ctx.throw_if_stop_requested();
                         std::this_thread::sleep_for(std::chrono::milliseconds(1));
                     }
                     return json{{"slept", true}};
                 },
                 {.side_effect_free = true});
    registry.add("t", "side", [](TaskContext& ctx) { return ctx.input(); });
    return registry;
}

/// Called from handlers so that their calls return in pairs: the odd-numbered arrival waits
/// (2 ms at most) for the next one. Workers then often finish tasks at the same moment.
inline void wait_for_partner(std::atomic<int>& arrivals) {
    const int me = ++arrivals;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
    while (arrivals.load() < me + me % 2 && std::chrono::steady_clock::now() < until) {
    }
}

inline JobResult run(const HandlerRegistry& registry, const JobSpec& spec, std::size_t workers = 2,
                     JobObserver* observer = nullptr) {
    return Orchestrator(registry, {.workers = workers}).run(spec, observer);
}

/// Runs @p body on a thread of its own and says whether it returned within ten seconds (a
/// generous bound on a loaded machine); what it throws is thrown here. A body that did not
/// return is left to end on its own: REQUIRE the answer, so that the test stops before it
/// reads what the body may still write.
template <typename Body>
bool returns_soon(Body body) {
    auto returned = std::make_shared<std::promise<void>>();
    auto future = returned->get_future();
    std::thread([held = std::optional<Body>(std::move(body)), returned]() mutable {
        try {
            (*held)();
            held.reset();  // its captures go before the caller hears that it returned
            returned->set_value();
        } catch (...) {
            held.reset();
            returned->set_exception(std::current_exception());
        }
    }).detach();
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return false;
    future.get();
    return true;
}

/// A number for the calling thread, never given to another: unlike a std::thread::id, which a
/// thread started after another ended may get again.
inline int thread_serial() {
    static std::atomic<int> next{0};
    thread_local const int serial = next++;
    return serial;
}

inline std::vector<std::string> ids_of(const JobResult& result) {
    std::vector<std::string> ids;
    for (const auto& t : result.tasks) ids.push_back(t.id);
    return ids;
}

inline std::vector<TaskStatus> history_statuses(const TaskRecord& record) {
    std::vector<TaskStatus> statuses;
    for (const auto& entry : record.history) statuses.push_back(entry.status);
    return statuses;
}

/// A child spec as a handler returns it in "childTasks".
inline json child(std::string service, std::string command, json input = json::object(),
                  std::vector<std::string> depends_on = {}, std::optional<std::string> id = std::nullopt) {
    json c{{"service", std::move(service)}, {"command", std::move(command)}, {"input", std::move(input)}};
    if (!depends_on.empty()) c["dependsOn"] = depends_on;
    if (id) c["id"] = *id;
    return c;
}

}  // namespace jobgraph::testing
