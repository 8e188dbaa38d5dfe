// Approving and rejecting planned tasks of a stored job, and looking at a stored job.
#include "helpers.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <random>

using namespace jobgraph;
using namespace jobgraph::testing;

namespace {

namespace fs = std::filesystem;

class TempStoreFile {
public:
    TempStoreFile() {
        std::random_device device;
        path_ = fs::temp_directory_path() / fmt::format("jobgraph-approval-test-{:08x}{:08x}.db", device(), device());
    }
    ~TempStoreFile() {
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::error_code ignored;
            fs::remove(path_.string() + suffix, ignored);
        }
    }
    TempStoreFile(const TempStoreFile&) = delete;
    TempStoreFile& operator=(const TempStoreFile&) = delete;
    const fs::path& path() const noexcept { return path_; }

private:
    fs::path path_;
};

Timestamp at_us(std::int64_t offset) {
    return Timestamp{std::chrono::microseconds{1'790'000'000'000'000 + offset}};
}

TaskRecord task_record(std::string id, TaskStatus status, std::vector<std::string> depends_on = {},
                       std::string planned_reason = "Awaiting approval: shell/run has side effects") {
    TaskRecord r;
    r.id = std::move(id);
    const auto dash = r.id.rfind('-');
    if (dash != std::string::npos) r.parent_id = r.id.substr(0, dash);
    r.depth = r.parent_id ? 1 : 0;
    r.service = "shell";
    r.command = "run";
    r.depends_on = std::move(depends_on);
    r.status = status;
    r.history.push_back({TaskStatus::pending, at_us(0), ""});
    if (status == TaskStatus::succeeded) {
        r.attempts = 1;
        r.started_at = at_us(10);
        r.completed_at = at_us(20);
        r.output = json::object();
        r.history.push_back({TaskStatus::started, at_us(10), ""});
        r.history.push_back({TaskStatus::succeeded, at_us(20), ""});
    } else if (status == TaskStatus::planned) {
        r.completed_at = at_us(30);
        r.history.push_back({TaskStatus::planned, at_us(30), std::move(planned_reason)});
    }
    return r;
}

constexpr const char* for_a_dependency = "Awaiting approval: a dependency is planned";

// Root "0" spawned 0-0 and 0-1 (planned: side effects), 0-2 waiting on 0-0 and 0-3 waiting on
// both (planned for them); root "1" waits on "0" and so on all of its children.
struct PlannedJob {
    TempStoreFile file;
    SqliteStore store{file.path()};
    std::string id;

    PlannedJob() {
        id = store.create_job(job({named("0"), named("1", {"0"})}, "plan"));
        std::vector<TaskRecord> tasks{
            task_record("0", TaskStatus::succeeded),
            task_record("1", TaskStatus::planned, {"0"}, for_a_dependency),
            task_record("0-0", TaskStatus::planned),
            task_record("0-1", TaskStatus::planned),
            task_record("0-2", TaskStatus::planned, {"0-0"}, for_a_dependency),
            task_record("0-3", TaskStatus::planned, {"0-0", "0-1"}, for_a_dependency),
        };
        tasks[0].children = {"0-0", "0-1", "0-2", "0-3"};
        std::vector<TaskWrite> writes;
        for (std::size_t i = 0; i < tasks.size(); ++i) writes.push_back(TaskWrite{i, &tasks[i], 0});
        store.save_tasks(id, writes);
        JobResult result;
        result.name = "plan";
        result.status = JobStatus::awaiting_approval;
        result.tasks = tasks;
        store.save_result(id, result);
    }

    TaskRecord task(const std::string& task_id) {
        const auto stored = store.load(id);
        for (const auto& record : stored->tasks) {
            if (record.id == task_id) return record;
        }
        FAIL("no task " << task_id);
        return {};
    }
};

}  // namespace

TEST_CASE("approve_planned approves named tasks and the planned work that waits only on them", "[store][approval]") {
    PlannedJob plan;

    SECTION("one task with side effects, and what waits only on it") {
        CHECK(approve_planned(plan.store, plan.id, ApprovalDecision{{"0-0"}, {}, ""}) == 2);
        CHECK(plan.task("0-0").status == TaskStatus::pending);
        CHECK(plan.task("0-0").history.back().status == TaskStatus::pending);
        CHECK(plan.task("0-0").history.back().reason == "Approved");
        CHECK_FALSE(plan.task("0-0").completed_at.has_value());
        CHECK(plan.task("0-2").status == TaskStatus::pending);
        CHECK(plan.task("0-1").status == TaskStatus::planned);
        CHECK(plan.task("0-3").status == TaskStatus::planned);  // it waits on 0-1 too
        CHECK(plan.task("1").status == TaskStatus::planned);    // it waits on all of 0's children
        CHECK_FALSE(plan.store.load(plan.id)->result.has_value());
    }
    SECTION("both tasks with side effects: everything") {
        CHECK(approve_planned(plan.store, plan.id, ApprovalDecision{{"0-1", "0-0"}, {}, ""}) == 5);
        const auto stored = plan.store.load(plan.id);
        for (const auto& task : stored->tasks) {
            if (task.id != "0") CHECK(task.status == TaskStatus::pending);
        }
    }
    SECTION("no ids: every planned task; the two-argument form does the same") {
        CHECK(approve_planned(plan.store, plan.id) == 5);
        CHECK(approve_planned(plan.store, plan.id) == 0);
    }
}

TEST_CASE("approve_planned rejects tasks and aborts what waits on them", "[store][approval]") {
    PlannedJob plan;
    CHECK(approve_planned(plan.store, plan.id, ApprovalDecision{{}, {"0-1"}, "too risky"}) == 2);

    const TaskRecord rejected = plan.task("0-1");
    CHECK(rejected.status == TaskStatus::aborted);
    CHECK(rejected.output == json{{"error", "Rejected: too risky"}});
    CHECK(rejected.history.back().status == TaskStatus::aborted);
    CHECK(rejected.history.back().reason == "Rejected: too risky");
    CHECK(rejected.completed_at.has_value());
    for (const char* dependent : {"0-3", "1"}) {
        const TaskRecord task = plan.task(dependent);
        INFO(dependent);
        CHECK(task.status == TaskStatus::aborted);
        CHECK(task.output == json{{"error", "Aborted: dependency 0-1 failed"}});
        CHECK(task.history.back().reason == "Aborted: dependency 0-1 failed");
    }
    CHECK(plan.task("0-0").status == TaskStatus::pending);
    CHECK(plan.task("0-2").status == TaskStatus::pending);
    CHECK_FALSE(plan.store.load(plan.id)->result.has_value());
}

TEST_CASE("approve_planned refuses ids that are not planned tasks and changes nothing", "[store][approval]") {
    PlannedJob plan;
    const StoredJob before = *plan.store.load(plan.id);
    CHECK_THROWS_AS(approve_planned(plan.store, plan.id, ApprovalDecision{{"0-0", "0", "nope"}, {}, ""}), StoreError);
    CHECK_THROWS_WITH(approve_planned(plan.store, plan.id, ApprovalDecision{{"0-0"}, {"nope"}, ""}),
                      Catch::Contains("nope") && !Catch::Contains("0-0"));
    CHECK_THROWS_WITH(approve_planned(plan.store, plan.id, ApprovalDecision{{"0-0", "0", "nope"}, {}, ""}),
                      Catch::Contains("0, nope"));
    CHECK_THROWS_WITH(approve_planned(plan.store, plan.id, ApprovalDecision{{"0-0"}, {"0-0"}, ""}),
                      Catch::Contains("both approved and rejected"));
    CHECK_THROWS_AS(approve_planned(plan.store, "job-missing"), StoreError);
    CHECK(plan.store.load(plan.id)->tasks == before.tasks);
    CHECK(plan.store.load(plan.id)->result == before.result);
}

TEST_CASE("approve_planned refuses a job a live process holds", "[store][approval][lease]") {
    PlannedJob plan;
    const LeaseHolder runner{"runner", LeaseHolder::for_this_process().host, LeaseHolder::for_this_process().pid};
    plan.store.acquire_lease(plan.id, runner, std::chrono::seconds(30));
    CHECK_THROWS_AS(approve_planned(plan.store, plan.id), JobBusyError);
    CHECK(plan.task("0-0").status == TaskStatus::planned);
    // Its lease is left as it was.
    CHECK(plan.store.renew_lease(plan.id, runner, std::chrono::seconds(30)).held);
    plan.store.release_lease(plan.id, runner);
    CHECK(approve_planned(plan.store, plan.id) == 5);
}

TEST_CASE("snapshot_of shows a stored job without running it", "[store]") {
    PlannedJob plan;
    SECTION("a job with a result: the result") {
        const StoredJob stored = *plan.store.load(plan.id);
        CHECK(snapshot_of(stored) == *stored.result);
    }
    SECTION("an unfinished job: its records, running, with counts") {
        approve_planned(plan.store, plan.id, ApprovalDecision{{"0-0"}, {}, ""});
        const JobResult snapshot = snapshot_of(*plan.store.load(plan.id));
        CHECK(snapshot.name == "plan");
        CHECK(snapshot.status == JobStatus::running);
        CHECK(snapshot.stats.total == 6);
        CHECK(snapshot.stats.succeeded == 1);
        CHECK(snapshot.stats.planned == 3);
        CHECK(snapshot.stats.pending == 2);
        REQUIRE(snapshot.tasks.size() == 6);
        CHECK(snapshot.tasks[0].id == "0");  // started first; the rest in creation order
        CHECK(snapshot.tasks[1].id == "1");
        CHECK(snapshot.tasks[2].id == "0-0");
        CHECK(snapshot.started_at == at_us(0));
        CHECK(snapshot.completed_at >= at_us(30));
    }
    SECTION("a job that never ran: its initial tasks, pending") {
        const auto id = plan.store.create_job(job({named("a"), task("core", "echo")}, "fresh"));
        const JobResult snapshot = snapshot_of(*plan.store.load(id));
        CHECK(snapshot.status == JobStatus::running);
        REQUIRE(snapshot.tasks.size() == 2);
        CHECK(snapshot.tasks[0].id == "a");
        CHECK(snapshot.tasks[1].id == "1");
        CHECK(snapshot.tasks[1].status == TaskStatus::pending);
        CHECK(snapshot.stats.pending == 2);
    }
}
