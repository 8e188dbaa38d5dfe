// Section 10: a job kept in a SQLite store survives its process and resumes where it stopped.
#include "helpers.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

using namespace jobgraph;
using namespace jobgraph::testing;

namespace {

// A database file in the temp folder, removed with its WAL files at the end of the test.
struct TempDatabase {
    std::filesystem::path path;
    TempDatabase() {
        static std::atomic<int> counter{0};
        path = std::filesystem::temp_directory_path() /
               fmt::format("jobgraph-persistence-{}-{}.db", ::getpid(), counter++);
    }
    ~TempDatabase() {
        for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
    }
};

// Counts handler calls per task id across runs.
struct CallCounter {
    std::mutex mutex;
    std::map<std::string, int> calls;
    void note(const std::string& id) {
        std::lock_guard lock(mutex);
        ++calls[id];
    }
    int of(const std::string& id) {
        std::lock_guard lock(mutex);
        return calls.contains(id) ? calls.at(id) : 0;
    }
};

HandlerRegistry counting_registry(CallCounter& counter) {
    HandlerRegistry registry;
    registry.add(
        "t", "work",
        [&counter](TaskContext& ctx) {
            counter.note(ctx.id());
            return json{{"childTasks", ctx.input().value("children", json::array())}, {"output", {{"by", ctx.id()}}}};
        },
        {.side_effect_free = true});
    registry.add("t", "side", [&counter](TaskContext& ctx) {
        counter.note(ctx.id());
        return json{{"wrote", ctx.input()}};
    });
    return registry;
}

// Passes every call on to another store; the test stores below override what they watch.
class ForwardingStore : public JobStore {
public:
    explicit ForwardingStore(JobStore& inner) : inner_(inner) {}
    std::string create_job(const JobSpec& spec) override { return inner_.create_job(spec); }
    void save_tasks(std::string_view id, std::span<const TaskWrite> tasks) override { inner_.save_tasks(id, tasks); }
    void save_result(std::string_view id, const JobResult& result) override { inner_.save_result(id, result); }
    void clear_result(std::string_view id) override { inner_.clear_result(id); }
    std::optional<StoredJob> load(std::string_view id) const override { return inner_.load(id); }
    std::vector<std::string> job_ids() const override { return inner_.job_ids(); }
    std::vector<JobSummary> list_jobs() const override { return inner_.list_jobs(); }
    void acquire_lease(std::string_view id, const LeaseHolder& holder, std::chrono::milliseconds duration) override {
        inner_.acquire_lease(id, holder, duration);
    }
    LeaseRenewal renew_lease(std::string_view id, const LeaseHolder& holder,
                             std::chrono::milliseconds duration) override {
        return inner_.renew_lease(id, holder, duration);
    }
    void release_lease(std::string_view id, const LeaseHolder& holder) override { inner_.release_lease(id, holder); }
    void request_cancel(std::string_view id, std::string_view reason) override { inner_.request_cancel(id, reason); }

private:
    JobStore& inner_;
};

// Stands in for a process that dies: after a number of commits every write fails, and the run
// is abandoned with only what was committed before in the file.
class DyingStore final : public ForwardingStore {
public:
    DyingStore(JobStore& inner, int commits_before_death) : ForwardingStore(inner), commits_left_(commits_before_death) {}
    void save_tasks(std::string_view id, std::span<const TaskWrite> tasks) override {
        die_if_due();
        ForwardingStore::save_tasks(id, tasks);
    }
    void save_result(std::string_view id, const JobResult& result) override {
        die_if_due();
        ForwardingStore::save_result(id, result);
    }

private:
    void die_if_due() {
        if (commits_left_-- <= 0) throw StoreError("simulated crash");
    }
    int commits_left_;
};

// Notes, per task, how many of its changes are committed and which thread committed its start.
class WatchingStore final : public ForwardingStore {
public:
    using ForwardingStore::ForwardingStore;
    void save_tasks(std::string_view id, std::span<const TaskWrite> tasks) override {
        ForwardingStore::save_tasks(id, tasks);
        std::lock_guard lock(mutex_);
        for (const TaskWrite& write : tasks) {
            const TaskRecord* record = write.record;
            committed_[record->id] = record->history.size();
            if (record->status == TaskStatus::started) start_committer_[record->id] = std::this_thread::get_id();
        }
    }
    std::size_t committed_changes(const std::string& id) {
        std::lock_guard lock(mutex_);
        return committed_.contains(id) ? committed_.at(id) : 0;
    }
    bool start_committed_by_this_thread(const std::string& id) {
        std::lock_guard lock(mutex_);
        return start_committer_.contains(id) && start_committer_.at(id) == std::this_thread::get_id();
    }

private:
    std::mutex mutex_;
    std::map<std::string, std::size_t> committed_;            // task id -> history entries committed
    std::map<std::string, std::thread::id> start_committer_;  // task id -> thread that committed its start
};

JobSpec pipeline() {
    const json children =
        json::array({child("t", "work", {}, {}, "load-a"), child("t", "work", {}, {"load-a"}, "load-b")});
    return job({task("t", "work", {{"children", children}}, {}, "plan"), task("t", "work", {}, {"plan"}, "report"),
                task("t", "work", {}, {}, "audit")},
               "stored");
}

}  // namespace

TEST_CASE("A stored run commits every record and its result", "[persistence]") {
    TempDatabase db;
    CallCounter counter;
    const auto registry = counting_registry(counter);
    SqliteStore store(db.path);
    const std::string id = store.create_job(pipeline());
    const auto result = Orchestrator(registry, {.workers = any_worker_count()}).resume(id, store);
    REQUIRE(result.status == JobStatus::succeeded);
    CHECK(result.stats.total == 5);

    SqliteStore reopened(db.path);
    const auto stored = reopened.load(id);
    REQUIRE(stored.has_value());
    REQUIRE(stored->result.has_value());
    CHECK(*stored->result == result);
    REQUIRE(stored->tasks.size() == 5);
    for (const auto& record : stored->tasks) CHECK(record == result.at(record.id));
    CHECK(stored->tasks[3].id == "load-a");  // creation order: roots, then the spawned batch
}

TEST_CASE("A stored job that never ran starts from its spec, a task given no input with an empty one",
          "[persistence]") {
    TempDatabase db;
    std::vector<json> seen;
    HandlerRegistry registry;
    registry.add("t", "work", [&](TaskContext& ctx) {
        seen.push_back(ctx.input());
        return json{{"ok", true}};
    });
    JobSpec spec = job({task("t", "work", {{"n", 1}}), task("t", "work")});
    spec.tasks[1].input = {};  // null in C++: no input
    SqliteStore store(db.path);
    const std::string id = store.create_job(spec);

    const auto result = Orchestrator(registry, {.workers = 1}).resume(id, store);
    REQUIRE(result.status == JobStatus::succeeded);
    CHECK(seen == std::vector<json>{json{{"n", 1}}, json::object()});
    CHECK(result.at("0").input == json{{"n", 1}});
    CHECK(result.at("1").input == json::object());
    CHECK(SqliteStore(db.path).load(id)->result == std::optional<JobResult>(result));
}

TEST_CASE("Resuming a finished job returns its stored result and runs nothing", "[persistence]") {
    TempDatabase db;
    CallCounter counter;
    const auto registry = counting_registry(counter);
    SqliteStore store(db.path);
    const std::string id = store.create_job(pipeline());
    const Orchestrator orchestrator(registry);
    const auto first = orchestrator.resume(id, store);
    const auto second = orchestrator.resume(id, store);
    CHECK(second == first);
    CHECK(counter.of("plan") == 1);
    CHECK_THROWS_WITH(orchestrator.resume("job-nope", store), "No job job-nope in the store");
}

TEST_CASE("A job interrupted at any commit resumes and finishes, finished tasks not run again", "[persistence]") {
    const std::size_t workers = any_worker_count();
    // Crash after 0, 1, 2, ... commits until the job gets through before the store dies.
    int crash_points = 0;
    for (int commits = 0; commits < 100; ++commits) {
        INFO("commits before the crash: " << commits << ", workers " << workers);
        TempDatabase db;
        CallCounter counter;
        const auto registry = counting_registry(counter);
        SqliteStore store(db.path);
        const std::string id = store.create_job(pipeline());
        DyingStore dying(store, commits);
        const auto crashed = Orchestrator(registry, {.workers = workers}).resume(id, dying);
        if (crashed.status == JobStatus::succeeded) break;  // every commit went through
        ++crash_points;
        CHECK(crashed.status == JobStatus::failed);
        CHECK_THAT(crashed.error_message.value_or(""), Catch::StartsWith("Store failed: simulated crash"));

        // What the file held when the process "died".
        const auto before = SqliteStore(db.path).load(id);
        REQUIRE(before.has_value());
        CHECK_FALSE(before->result.has_value());
        std::map<std::string, TaskStatus> committed;
        for (const auto& record : before->tasks) committed[record.id] = record.status;

        SqliteStore fresh(db.path);  // a new process opens the file
        const auto resumed = Orchestrator(registry, {.workers = workers}).resume(id, fresh);
        REQUIRE(resumed.status == JobStatus::succeeded);
        CHECK(resumed.stats.total == 5);
        for (const auto& record : resumed.tasks) {
            INFO(record.id);
            CHECK(record.attempts == counter.of(record.id));  // every call is counted
            if (committed.contains(record.id) && committed.at(record.id) == TaskStatus::succeeded) {
                CHECK(counter.of(record.id) == 1);  // its handler was not called again
            }
            if (committed.contains(record.id) && committed.at(record.id) == TaskStatus::started) {
                CHECK(record.attempts == 2);
                CHECK(record.history.at(2).reason == "Interrupted before it finished; it runs again");
            }
        }
        CHECK(SqliteStore(db.path).load(id)->result == std::optional<JobResult>(resumed));
    }
    CHECK(crash_points >= 6);  // at the least: the roots, 3 starts and the first completions
}

TEST_CASE("A handler whose start cannot be committed is not called, asynchronous or not", "[persistence][async]") {
    // The store takes one commit (the run's first, of the pending task) and dies at the next,
    // the one that holds the task's start: as after a crash at that point, the handler must not
    // have run. Records are read in place whatever maxTasks is.
    std::atomic<int> calls{0};
    HandlerRegistry registry;
    registry.add_async("io", "wait", [&](TaskContext&, Completion done) {
        ++calls;
        done.succeed();
    });
    registry.add("t", "work", [&](TaskContext&) {
        ++calls;
        return json::object();
    });
    for (const std::string command : {"wait", "work"}) {
        for (const std::int64_t max_tasks : {std::int64_t{10}, std::int64_t{10'000'000}}) {
            INFO(command << ", maxTasks " << max_tasks);
            calls = 0;
            TempDatabase db;
            SqliteStore store(db.path);
            JobSpec spec = job({task(command == "wait" ? "io" : "t", command, {{"n", 1}})});
            spec.limits.max_tasks = max_tasks;
            const std::string id = store.create_job(spec);
            DyingStore dying(store, 1);
            const auto result = Orchestrator(registry).resume(id, dying);
            CHECK(calls == 0);
            CHECK(result.status == JobStatus::failed);
            CHECK(result.error_message == std::optional<std::string>("Store failed: simulated crash"));
            // The result reports what the store holds: the task never started.
            const TaskRecord& record = result.at("0");
            CHECK(record.status == TaskStatus::pending);
            CHECK(record.attempts == 0);
            CHECK(record.output == nullptr);
            CHECK(record.input == json{{"n", 1}});  // the record came back whole
            CHECK(history_statuses(record) == std::vector<TaskStatus>{TaskStatus::pending});
            CHECK(SqliteStore(db.path).load(id)->tasks == std::vector<TaskRecord>{record});
        }
    }
}

TEST_CASE("On several workers each start is committed before its handler runs and each change before it is reported",
          "[persistence][async]") {
    // One worker may commit the start of another's next task: the handler must still find it
    // in the store, and an observer must hear of no change the store does not hold yet.
    struct CommitChecker : JobObserver {
        explicit CommitChecker(WatchingStore& store) : store(store) {}
        void on_task_status(const TaskEvent& event) override {
            if (store.committed_changes(event.task_id) < ++reported[event.task_id]) ++reported_early;
        }
        WatchingStore& store;
        std::map<std::string, std::size_t> reported;
        int reported_early = 0;
    };

    const std::size_t workers = GENERATE(as<std::size_t>{}, 2, 4);
    TempDatabase db;
    SqliteStore sqlite(db.path);
    WatchingStore store(sqlite);
    std::atomic<int> uncommitted_starts{0};
    const auto check_start = [&](const TaskContext& ctx) {
        if (store.committed_changes(ctx.id()) < 2) ++uncommitted_starts;  // pending, started
    };
    HandlerRegistry registry;
    registry.add("s", "x",
                 [&](TaskContext& ctx) {
                     check_start(ctx);
                     if (ctx.input().value("spawn", false)) ctx.spawn(task("s", "x"));
                     return json{{"ok", true}};
                 },
                 {.side_effect_free = true});
    registry.add_async("a", "x",
                       [&](TaskContext& ctx, Completion done) {
                           check_start(ctx);
                           done.succeed(json{{"ok", true}});
                       },
                       {.side_effect_free = true});
    std::vector<TaskSpec> tasks;
    for (int i = 0; i < 60; ++i) tasks.push_back(task(i % 2 ? "s" : "a", "x", {{"spawn", i % 4 == 1}}));
    JobSpec spec = job(std::move(tasks));
    spec.limits.max_tasks = 1'000'000;
    const std::string id = store.create_job(spec);
    CommitChecker checker(store);
    const auto result = Orchestrator(registry, {.workers = workers}).resume(id, store, &checker);

    REQUIRE(result.status == JobStatus::succeeded);
    CHECK(result.tasks.size() == 75);  // 60 and a child for each of 15
    CHECK(uncommitted_starts == 0);
    CHECK(checker.reported_early == 0);
    CHECK(checker.reported.size() == 75);
}

TEST_CASE("A store that dies mid-run: no handler runs uncommitted, and the result is what the store holds",
          "[persistence][scheduling]") {
    // The store dies at each commit in turn while several workers start and end tasks. No
    // handler may run whose start was not committed, and the result may report nothing the
    // store does not have: a task whose end was not committed is still `started`.
    const std::size_t workers = GENERATE(as<std::size_t>{}, 1, 2, 4);
    for (int commits = 1; commits <= 24; ++commits) {
        INFO("workers " << workers << ", commits before the crash " << commits);
        TempDatabase db;
        SqliteStore sqlite(db.path);
        DyingStore dying(sqlite, commits);
        WatchingStore store(dying);
        CallCounter counter;
        std::atomic<int> uncommitted_starts{0};
        HandlerRegistry registry;
        registry.add("s", "x", [&](TaskContext& ctx) {
            if (store.committed_changes(ctx.id()) < 2) ++uncommitted_starts;  // pending, started
            counter.note(ctx.id());
            return json{{"ok", true}};
        });
        std::vector<TaskSpec> tasks;
        for (int i = 0; i < 40; ++i) tasks.push_back(task("s", "x", {{"i", i}}));
        const std::string id = store.create_job(job(std::move(tasks)));
        const auto result = Orchestrator(registry, {.workers = workers}).resume(id, store);
        if (result.status == JobStatus::succeeded) {  // every commit went through
            CHECK(commits > 2);                         // the roots, a first start, an end at least
            break;
        }

        REQUIRE(result.status == JobStatus::failed);
        CHECK(result.error_message == std::optional<std::string>("Store failed: simulated crash"));
        CHECK(uncommitted_starts == 0);
        const auto stored = SqliteStore(db.path).load(id);
        REQUIRE(stored.has_value());
        CHECK_FALSE(stored->result.has_value());
        std::map<std::string, TaskRecord> stored_tasks;
        for (const auto& record : stored->tasks) stored_tasks.emplace(record.id, record);
        CHECK(result.tasks.size() == stored_tasks.size());
        for (const auto& record : result.tasks) {
            INFO(record.id);
            REQUIRE(stored_tasks.contains(record.id));
            CHECK(record == stored_tasks.at(record.id));
            // A committed start always ran its handler; nothing else did.
            CHECK(counter.of(record.id) == (record.status == TaskStatus::pending ? 0 : 1));
            CHECK(record.attempts == counter.of(record.id));
        }
        CHECK(result.stats.total == result.tasks.size());
    }
}

TEST_CASE("Approving planned tasks and resuming runs them", "[persistence][plan]") {
    TempDatabase db;
    CallCounter counter;
    const auto registry = counting_registry(counter);
    const json children = json::array(
        {child("t", "side", {{"file", "out.csv"}}, {}, "write"), child("t", "work", {}, {"write"}, "notify")});
    JobSpec spec = job({task("t", "work", {{"children", children}}, {}, "planner")}, "approval");
    spec.require_approval = true;
    SqliteStore store(db.path);
    const std::string id = store.create_job(spec);
    const Orchestrator orchestrator(registry, {.workers = any_worker_count()});

    const auto planned = orchestrator.resume(id, store);
    CHECK(planned.status == JobStatus::awaiting_approval);
    CHECK(planned.at("write").status == TaskStatus::planned);
    CHECK(counter.of("write") == 0);
    CHECK(orchestrator.resume(id, store) == planned);  // still awaiting: nothing runs

    CHECK(approve_planned(store, id) == 2);
    const auto approved = orchestrator.resume(id, store);
    CHECK(approved.status == JobStatus::succeeded);
    CHECK(approved.at("write").output == json{{"wrote", {{"file", "out.csv"}}}});
    CHECK(approved.at("notify").status == TaskStatus::succeeded);
    CHECK(history_statuses(approved.at("write")) == std::vector<TaskStatus>{TaskStatus::pending, TaskStatus::planned,
                                                                            TaskStatus::pending, TaskStatus::started,
                                                                            TaskStatus::succeeded});
    CHECK(counter.of("planner") == 1);
    CHECK(approve_planned(store, id) == 0);
}

TEST_CASE("A resumed job whose handlers are missing runs nothing and says why", "[persistence]") {
    TempDatabase db;
    CallCounter counter;
    const auto registry = counting_registry(counter);
    SqliteStore store(db.path);
    const std::string id = store.create_job(pipeline());
    const auto result = Orchestrator(basic_registry()).resume(id, store);
    CHECK(result.status == JobStatus::failed);
    CHECK_THAT(*result.error_message,
               Catch::StartsWith("Job validation failed:\nTask plan: Unknown service/command: t/work"));
    CHECK_FALSE(store.load(id)->result.has_value());  // the job stays resumable
}
