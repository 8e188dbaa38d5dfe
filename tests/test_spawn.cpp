// Section 4: spawning children, atomic batches, their dependencies and join waits.
#include "helpers.hpp"

#include <fmt/format.h>

#include <mutex>
#include <set>
#include <thread>

using namespace jobgraph;
using namespace jobgraph::testing;

namespace {

json spawn_input(json children) {
    return json{{"children", std::move(children)}};
}

// Records "start <id>" and "end <id>" for every task, in the order they happen.
struct EventLog {
    std::mutex mutex;
    std::vector<std::string> lines;
    void add(std::string line) {
        std::lock_guard lock(mutex);
        lines.push_back(std::move(line));
    }
    std::ptrdiff_t position(const std::string& line) {
        const auto it = std::find(lines.begin(), lines.end(), line);
        REQUIRE(it != lines.end());
        return it - lines.begin();
    }
};

HandlerRegistry logging_registry(EventLog& log) {
    HandlerRegistry registry;
    registry.add("log", "run", [&log](TaskContext& ctx) {
        log.add("start " + ctx.id());
        std::this_thread::sleep_for(std::chrono::milliseconds(ctx.input().value("ms", 0)));
        json result = {{"childTasks", ctx.input().value("children", json::array())}};
        log.add("end " + ctx.id());
        return result;
    });
    return registry;
}

}  // namespace

TEST_CASE("A batch whose third child is invalid adds no child at all", "[spawn]") {
    const auto registry = basic_registry();
    const auto children = json::array({child("t", "echo"), child("t", "echo"), child("t", "nope"), child("t", "echo")});
    const auto result = run(registry, job({task("t", "spawn", spawn_input(children))}), any_worker_count());
    CHECK(result.status == JobStatus::failed);
    CHECK(result.stats.total == 1);
    CHECK(result.at("0").children.empty());
    CHECK(result.at("0").status == TaskStatus::failed);
    CHECK(result.at("0").output ==
          json{{"error", "Child task validation failed for parent 0:\nInvalid service/command combination: t/nope"}});
}

TEST_CASE("Every problem of a batch's children is listed", "[spawn]") {
    HandlerRegistry registry = basic_registry();
    registry.add("mail", "send", [](TaskContext&) { return json::object(); },
                 {.input_check = [](const json& input) -> std::optional<std::string> {
                     return input.contains("to") ? std::nullopt : std::optional<std::string>("\"to\" is required");
                 }});
    const auto children = json::array({child("mail", "send"), json{{"service", "t"}}, child("x", "y"), 5});
    const auto result = run(registry, job({task("t", "spawn", spawn_input(children))}));
    CHECK(result.at("0").output.at("error") ==
          "Child task validation failed for parent 0:\n"
          "childTasks[3]: a task must be a JSON object, got 5\n"
          "Invalid input for child task 0-0 (mail/send): \"to\" is required\n"
          "Child task 0-1: service and command must be non-empty strings\n"
          "Invalid service/command combination: x/y\n"
          "Child task 0-3: service and command must be non-empty strings");
}

TEST_CASE("Duplicate child ids are refused, within the batch or against the job", "[spawn]") {
    const auto registry = basic_registry();
    const auto children = json::array(
        {child("t", "echo", {}, {}, "x"), child("t", "echo", {}, {}, "x"), child("t", "echo", {}, {}, "other")});
    JobSpec spec = job({task("t", "spawn", spawn_input(children)), named("other")});
    spec.abort_on_failure = false;
    const auto result = run(registry, spec, any_worker_count());
    CHECK(result.at("0").output == json{{"error", "Duplicate child task IDs detected: x, other"}});
    CHECK(result.stats.total == 2);
}

TEST_CASE("A dependency must name an existing task or a sibling", "[spawn]") {
    const auto registry = basic_registry();
    const auto children = json::array({child("t", "echo", {}, {"ghost"}), child("t", "echo", {}, {"0-0", "nope"})});
    const auto result = run(registry, job({task("t", "spawn", spawn_input(children))}), any_worker_count());
    CHECK(result.at("0").output == json{{"error",
                                         "Invalid dependency: Child task 0-0 depends on non-existent task ghost\n"
                                         "Invalid dependency: Child task 0-1 depends on non-existent task nope"}});
}

TEST_CASE("Siblings may depend on later siblings", "[spawn]") {
    EventLog log;
    const auto registry = logging_registry(log);
    const auto children = json::array({
        child("log", "run", {}, {"last"}, "first"),
        child("log", "run", {}, {"last"}, "middle"),
        child("log", "run", {{"ms", 20}}, {}, "last"),
    });
    const auto result = run(registry, job({task("log", "run", spawn_input(children))}), any_worker_count());
    REQUIRE(result.status == JobStatus::succeeded);
    CHECK(log.position("end last") < log.position("start first"));
    CHECK(log.position("end last") < log.position("start middle"));
}

TEST_CASE("A child may depend on its parent or grandparent without waiting", "[spawn]") {
    EventLog log;
    const auto registry = logging_registry(log);
    const auto grandchildren = json::array({child("log", "run", {}, {"root", "root-0"})});
    const auto children = json::array({child("log", "run", spawn_input(grandchildren), {"root"})});
    const auto result = run(registry, job({task("log", "run", spawn_input(children), {}, "root")}), any_worker_count());
    CHECK(result.status == JobStatus::succeeded);
    CHECK(result.stats.succeeded == 3);
    CHECK(result.at("root-0-0").depends_on == std::vector<std::string>{"root", "root-0"});
}

TEST_CASE("A dependent waits for everything its dependency spawned, at any depth", "[spawn]") {
    EventLog log;
    const auto registry = logging_registry(log);
    const auto deep = json::array({child("log", "run", {{"ms", 30}})});
    const auto middle = json::array({child("log", "run", spawn_input(deep)), child("log", "run", {{"ms", 5}})});
    JobSpec spec = job({task("log", "run", spawn_input(middle), {}, "P"), task("log", "run", {}, {"P"}, "W"),
                        task("log", "run", {}, {}, "free")});
    const auto result = run(registry, spec, any_worker_count());
    REQUIRE(result.status == JobStatus::succeeded);
    CHECK(log.position("end P-0-0") < log.position("start W"));
    CHECK(log.position("end P-1") < log.position("start W"));
    CHECK(result.at("W").depends_on == std::vector<std::string>{"P"});  // join waits are not written in
}

TEST_CASE("A cycle formed only through join waits is refused with its path", "[spawn]") {
    const auto registry = basic_registry();
    // A-0 depends on B while B depends on A: A would wait for A-0, which waits for B, which waits for A.
    const auto children = json::array({child("t", "echo", {}, {"B"}, "A-0")});
    JobSpec spec = job({task("t", "spawn", spawn_input(children), {}, "A"), named("B", {"A"})});
    const auto result = run(registry, spec, any_worker_count());
    CHECK(result.at("A").status == TaskStatus::failed);
    CHECK(result.at("A").output == json{{"error", "Circular dependencies detected: A-0 -> B -> A -> A-0"}});
    CHECK(result.at("B").status == TaskStatus::aborted);
    CHECK(result.at("B").output == json{{"error", "Aborted: dependency A failed"}});
    CHECK(result.stats.total == 2);
}

TEST_CASE("A child may depend on a finished task elsewhere in the job", "[spawn]") {
    const auto registry = basic_registry();
    const auto children = json::array({child("t", "echo", {}, {"early"})});
    JobSpec spec = job({named("early"), task("t", "spawn", spawn_input(children), {"early"})});
    const auto result = run(registry, spec, any_worker_count());
    CHECK(result.status == JobStatus::succeeded);
    CHECK(result.at("1-0").status == TaskStatus::succeeded);
}

TEST_CASE("Output, trace and children are split as the contract says", "[spawn]") {
    HandlerRegistry registry = basic_registry();
    registry.add("r", "with-output", [](TaskContext&) {
        return json{{"output", {{"answer", 42}}}, {"trace", {{"tokens", 7}}}, {"note", "dropped"}};
    });
    registry.add("r", "without-output", [](TaskContext&) {
        return json{{"answer", 1}, {"childTasks", json::array({child("t", "echo")})}, {"trace", "why"}};
    });
    registry.add("r", "scalar", [](TaskContext&) { return json(3); });
    registry.add("r", "bad-children", [](TaskContext&) { return json{{"childTasks", {{"not", "array"}}}}; });
    registry.add("r", "context", [](TaskContext& ctx) {
        ctx.spawn(task("t", "echo", {{"via", "context"}}));
        ctx.set_trace("from context");
        return json{{"childTasks", json::array({child("t", "echo", {{"via", "result"}})})}};
    });
    // Results with more keys than one pass searches are split the same way, by look-ups.
    registry.add("r", "wide-with-output", [](TaskContext&) {
        json result{{"output", {{"answer", 43}}}, {"trace", "wide"}, {"childTasks", json::array({child("t", "echo")})}};
        for (int i = 0; i < 10; ++i) result[fmt::format("k{}", i)] = i;
        return result;
    });
    registry.add("r", "wide-without-output", [](TaskContext&) {
        json result{{"trace", "wide"}, {"childTasks", json::array({child("t", "echo")})}};
        for (int i = 0; i < 10; ++i) result[fmt::format("k{}", i)] = i;
        return result;
    });
    JobSpec spec =
        job({task("r", "with-output"), task("r", "without-output"), task("r", "scalar"), task("r", "bad-children"),
             task("r", "context"), task("r", "wide-with-output"), task("r", "wide-without-output")});
    spec.abort_on_failure = false;
    const auto result = run(registry, spec);
    CHECK(result.at("0").output == json{{"answer", 42}});
    CHECK(result.at("0").trace == json{{"tokens", 7}});
    CHECK(result.at("1").output == json{{"answer", 1}});
    CHECK(result.at("1").trace == "why");
    CHECK(result.at("1").children == std::vector<std::string>{"1-0"});
    CHECK(result.at("2").output == 3);
    CHECK(result.at("2").trace.is_null());
    CHECK(result.at("3").status == TaskStatus::failed);
    CHECK(result.at("3").output == json{{"error", "childTasks must be an array of task specs, got object"}});
    CHECK(result.at("4").children == std::vector<std::string>{"4-0", "4-1"});
    CHECK(result.at("4-0").input == json{{"via", "context"}});
    CHECK(result.at("4-1").input == json{{"via", "result"}});
    CHECK(result.at("4").trace == "from context");
    CHECK(result.at("5").output == json{{"answer", 43}});
    CHECK(result.at("5").trace == "wide");
    CHECK(result.at("5").children == std::vector<std::string>{"5-0"});
    json wide;
    for (int i = 0; i < 10; ++i) wide[fmt::format("k{}", i)] = i;
    CHECK(result.at("6").output == wide);  // without the trace and the children
    CHECK(result.at("6").trace == "wide");
    CHECK(result.at("6").children == std::vector<std::string>{"6-0"});
}

TEST_CASE("A handler reads the outputs of tasks that succeeded", "[spawn][context]") {
    HandlerRegistry registry = basic_registry();
    registry.add("r", "read", [](TaskContext& ctx) {
        return json{{"seen", ctx.output_of("src").value_or(json("none"))},
                    {"missing", ctx.output_of("ghost").value_or(json("none"))},
                    {"parent", ctx.parent_id().value_or("root")},
                    {"depth", ctx.depth()},
                    {"attempt", ctx.attempt()},
                    {"maxTasks", ctx.limits().max_tasks}};
    });
    const auto result = run(registry, job({named("src", {}, {{"v", 1}}), task("r", "read", {}, {"src"})}));
    CHECK(result.at("1").output == json{{"seen", {{"v", 1}}},
                                        {"missing", "none"},
                                        {"parent", "root"},
                                        {"depth", 0},
                                        {"attempt", 1},
                                        {"maxTasks", 1000}});
}

TEST_CASE("A thread of a handler's own reads outputs while other workers add them", "[spawn][context]") {
    // The watcher's thread polls the sources' outputs while the other workers finish them, a
    // millisecond each: each output, once there, is the source's own and stays so.
    constexpr int sources = 40;
    HandlerRegistry registry = basic_registry();
    registry.add("r", "slow-echo", [](TaskContext& ctx) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return ctx.input();
    });
    registry.add("r", "watch", [](TaskContext& ctx) {
        json seen = json::object();
        std::thread reader([&] {
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (seen.size() < sources && std::chrono::steady_clock::now() < until) {
                for (int i = 0; i < sources; ++i) {
                    const std::string id = fmt::format("s{}", i);
                    const auto output = ctx.output_of(id);
                    if (!output) continue;
                    if (seen.contains(id) && seen[id] != *output) seen[id] = "changed";
                    if (!seen.contains(id)) seen[id] = *output;
                }
                std::this_thread::yield();  // leave the job's lock to the workers between passes
            }
        });
        reader.join();
        return seen;
    });
    std::vector<TaskSpec> tasks{task("r", "watch", {}, {}, "watcher")};
    json expected = json::object();
    for (int i = 0; i < sources; ++i) {
        const std::string id = fmt::format("s{}", i);
        tasks.push_back(task("r", "slow-echo", {{"i", i}}, {}, id));
        expected[id] = json{{"i", i}};
    }
    const auto result = run(registry, job(tasks), GENERATE(as<std::size_t>{}, 2, 4));
    CHECK(result.at("watcher").output == expected);
}

TEST_CASE("Handlers see their own task whether the records can move or not", "[spawn]") {
    // A binary tree spawned at run time, with synchronous and asynchronous handlers that check
    // what their context shows. With maxTasks within what a run reserves the records stay put;
    // beyond it (10,000,000) each handler works on a record of its own while others are added.
    HandlerRegistry registry;
    auto split = [](const TaskContext& ctx) {
        const auto k = ctx.input().at("k").get<std::int64_t>();
        json children = json::array();
        if (ctx.depth() < 6) {
            const std::string command = k % 2 == 0 ? "async" : "sync";
            children.push_back(child("tree", command, {{"k", 2 * k + 1}}));
            children.push_back(child("tree", command, {{"k", 2 * k + 2}}));
        }
        return json{{"childTasks", std::move(children)}, {"output", {{"k", k}, {"id", ctx.id()}}}};
    };
    registry.add("tree", "sync", split);
    registry.add_async("tree", "async", [split](TaskContext& ctx, Completion done) {
        json result = split(ctx);
        std::thread([done, result = std::move(result)]() mutable { done.succeed(std::move(result)); }).detach();
    });
    for (const std::int64_t max_tasks : {std::int64_t{127}, std::int64_t{10'000'000}}) {
        for (int round = 0; round < 10; ++round) {
            INFO("maxTasks " << max_tasks << ", round " << round);
            JobSpec spec = job({task("tree", "sync", {{"k", 0}})});
            spec.limits.max_tasks = max_tasks;
            const auto result = run(registry, spec, 4);
            REQUIRE(result.status == JobStatus::succeeded);
            REQUIRE(result.tasks.size() == 127);
            for (const TaskRecord& record : result.tasks) {
                CHECK(record.output.at("id") == record.id);
                CHECK(record.output.at("k") == record.input.at("k"));
                CHECK(record.attempts == 1);
            }
        }
    }
}

TEST_CASE("Spawned tasks past the room a run reserves keep every record intact", "[spawn][stress]") {
    // A run reserves records for its initial tasks and 262,144 spawned ones. Past that the array
    // grows under the lock while other workers' handlers read their records: 300 roots spawn
    // 1,000 leaves each, one in ten of them asynchronous (those work on a copy of their record).
    HandlerRegistry registry;
    registry.add("fan", "out", [](const TaskContext& ctx) {
        const auto root = ctx.input().at("root").get<int>();
        json children = json::array();
        for (int i = 0; i < 1000; ++i) {
            children.push_back(child("fan", i % 10 == 0 ? "async" : "sync", {{"v", root * 1000 + i}}));
        }
        return json{{"childTasks", std::move(children)}, {"output", {{"root", root}}}};
    });
    auto leaf_output = [](const TaskContext& ctx) {
        return json{{"twice", 2 * ctx.input().at("v").get<int>()}, {"id", ctx.id()}};
    };
    registry.add("fan", "sync", leaf_output);
    registry.add_async("fan", "async",
                       [leaf_output](TaskContext& ctx, Completion done) { done.succeed(leaf_output(ctx)); });
    std::vector<TaskSpec> roots;
    for (int root = 0; root < 300; ++root) roots.push_back(task("fan", "out", {{"root", root}}));
    JobSpec spec = job(std::move(roots));
    spec.limits.max_tasks = 400'000;

    const auto result = run(registry, spec, 4);
    REQUIRE(result.status == JobStatus::succeeded);
    REQUIRE(result.tasks.size() == 300'300);  // more than 300 + 262,144: the array grew
    std::size_t leaves = 0;
    std::vector<std::string> wrong;  // counted here: 600,000 separate checks would be slow
    for (const TaskRecord& record : result.tasks) {
        if (!record.parent_id) {
            if (record.children.size() != 1000 || record.output != json{{"root", record.input.at("root")}})
                wrong.push_back(record.id);
            continue;
        }
        ++leaves;
        if (record.output != json{{"twice", 2 * record.input.at("v").get<int>()}, {"id", record.id}} ||
            record.attempts != 1 || record.history.size() != 3)
            wrong.push_back(record.id);
    }
    CHECK(leaves == 300'000);
    INFO("first wrong record: " << (wrong.empty() ? std::string("none") : wrong.front()));
    CHECK(wrong.size() == 0);
}

TEST_CASE("spawn is safe from several threads of one handler",
          "[spawn][threads]") {
    constexpr int threads = 4;
    constexpr int per_thread = 50;
    HandlerRegistry registry = basic_registry();
    registry.add("t", "fan", [&](TaskContext& ctx) {
        std::vector<std::thread> spawners;
        for (int t = 0; t < threads; ++t) {
            spawners.emplace_back([&ctx, t] {
                for (int i = 0; i < per_thread; ++i) {
                    ctx.spawn(task("t", "echo", {{"n", t * per_thread + i}}, {}, fmt::format("c-{}-{}", t, i)));
                }
            });
        }
        for (auto& spawner : spawners) spawner.join();
        return json::object();
    });
    JobSpec spec = job({task("t", "fan")});
    const auto result = Orchestrator(registry, {.workers = 2}).run(spec);
    REQUIRE(result.status == JobStatus::succeeded);
    CHECK(result.stats.total == 1 + threads * per_thread);
    CHECK(result.at("0").children.size() == threads * per_thread);
    std::set<std::string> ids;
    for (const auto& record : result.tasks) ids.insert(record.id);
    CHECK(ids.size() == result.tasks.size());
}

TEST_CASE("spawn after an asynchronous handler fulfilled its completion throws and adds nothing", "[spawn][async]") {
    HandlerRegistry registry = basic_registry();
    std::string error;
    registry.add_async("t", "late", [&](TaskContext& ctx, Completion done) {
        done.succeed(json{{"ok", true}});
        try {
            ctx.spawn(task("t", "echo"));
        } catch (const std::logic_error& e) {
            error = e.what();
        }
    });
    const auto result = Orchestrator(registry, {.workers = 1}).run(job({task("t", "late")}));
    CHECK(result.status == JobStatus::succeeded);
    CHECK(result.stats.total == 1);
    CHECK(error == "TaskContext::spawn called after the handler returned");
}
