// Section 10: what every JobStore does, whatever keeps the jobs. Each test executable that
// compiles this file runs it against one store (store_contract.hpp).
#include "helpers.hpp"
#include "store_contract.hpp"

#include <fmt/format.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <exception>
#include <set>
#include <thread>

extern char** environ;  // POSIX: the process's environment

using namespace jobgraph;
using namespace jobgraph::testing;

namespace {

Timestamp at_us(std::int64_t offset) {
    return Timestamp{std::chrono::microseconds{1'790'000'000'000'000 + offset}};
}

JobSpec contract_spec(std::string name = "photo-import") {
    JobSpec spec = job({task("fs", "scan", {{"dir", "/photos/2026"}, {"ünïcödé", "✓"}}, {}, "scan"),
                        task("img", "thumbnail", {{"size", 256}, {"format", "webp"}}, {"scan"})},
                       std::move(name));
    spec.limits = JobLimits{50, 3, std::chrono::milliseconds(30'000)};
    spec.abort_on_failure = false;
    spec.require_approval = true;
    return spec;
}

// A record with one history entry per status it went through.
TaskRecord record(std::string id, TaskStatus status, json output = nullptr) {
    TaskRecord r;
    r.id = std::move(id);
    r.parent_id = r.id == "0" ? std::nullopt : std::optional<std::string>("0");
    r.depth = r.id == "0" ? 0 : 1;
    r.service = "fs";
    r.command = "stat";
    r.input = {{"path", "/photos/2026/" + r.id + ".jpg"}};
    r.output = std::move(output);
    r.status = status;
    r.history.push_back({TaskStatus::pending, at_us(0), ""});
    if (status != TaskStatus::pending) {
        r.attempts = 1;
        r.started_at = at_us(10);
        r.history.push_back({TaskStatus::started, at_us(10), ""});
    }
    if (is_final(status)) {
        r.completed_at = at_us(250);
        r.history.push_back({status, at_us(250), status == TaskStatus::failed ? "disk full" : ""});
    }
    return r;
}

// A task waiting for its third attempt, with everything a record can hold set.
TaskRecord retrying_record() {
    TaskRecord r = record("0-1", TaskStatus::started);
    r.depends_on = {"0-0"};
    r.children = {"0-1-0", "0-1-1"};
    r.trace = {{"steps", json::array({1, 2.5, "three", nullptr})}, {"nested", {{"deep", {{"er", true}}}}}};
    r.input = {{"text", "line one\nline \"two\"\ttab \\ back \u00e9\u4e2d"}, {"n", -12345678901234}, {"f", 0.1}};
    r.status = TaskStatus::retrying;
    r.attempts = 2;
    r.next_attempt_at = at_us(1'500'000);
    r.timeout = std::chrono::milliseconds(1500);
    r.retry = RetryPolicy{5, std::chrono::milliseconds(250), 1.5, std::chrono::milliseconds(4000), false};
    r.priority = -3;
    r.history.push_back({TaskStatus::retrying, at_us(600), "HTTP 503"});
    r.history.push_back({TaskStatus::started, at_us(900'001), ""});
    r.history.push_back({TaskStatus::retrying, at_us(1'000'999), "connection reset"});
    return r;
}

JobResult finished_result(const std::vector<TaskRecord>& tasks) {
    JobResult result;
    result.name = "photo-import";
    result.status = JobStatus::failed;
    result.error_message = "1 task failed";
    result.started_at = at_us(0);
    result.completed_at = at_us(300);
    result.stats = count_statuses(tasks);
    result.stats.wall_ms = 0.3;
    result.tasks = tasks;
    result.history = {{JobStatus::running, at_us(0), ""}, {JobStatus::failed, at_us(300), "task 1 failed"}};
    return result;
}

using Batch = std::vector<TaskWrite>;  // {position, record, history entries saved before}

LeaseHolder holder_named(const std::string& name, std::int64_t pid = getpid()) {
    LeaseHolder holder = LeaseHolder::for_this_process();
    holder.id = holder.host + ":" + std::to_string(pid) + ":" + name;
    holder.pid = pid;
    return holder;
}

// The id of a process of this machine that has exited (spawned, not forked: the test process
// has threads).
std::int64_t exited_pid() {
    pid_t child = 0;
    char program[] = "true";
    char* argv[] = {program, nullptr};
    REQUIRE(posix_spawnp(&child, "true", nullptr, nullptr, argv, environ) == 0);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    return child;
}

const JobSummary& summary_of(const std::vector<JobSummary>& jobs, const std::string& id) {
    for (const auto& job : jobs) {
        if (job.id == id) return job;
    }
    FAIL("no summary of " << id);
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("Store contract: a job's spec and task records come back as they were saved", "[store][contract]") {
    const auto backend = make_store_backend();
    const auto store = backend->open();
    const auto spec = contract_spec();
    const auto id = store->create_job(spec);

    auto loaded = store->load(id);
    REQUIRE(loaded.has_value());
    CHECK(loaded->id == id);
    CHECK(loaded->spec == spec);
    CHECK(loaded->tasks.empty());
    CHECK_FALSE(loaded->result.has_value());

    const auto root = record("0", TaskStatus::succeeded, {{"files", json::array({"a.jpg", "b.jpg"})}});
    const auto retrying = retrying_record();
    const auto pending = record("0-0", TaskStatus::pending);
    // Saved out of order: a task's place is its position, not its turn in the batch.
    store->save_tasks(id, Batch{{2, &retrying}, {0, &root}, {1, &pending}});

    loaded = backend->open()->load(id);  // another store object, as another process would see it
    REQUIRE(loaded.has_value());
    CHECK(loaded->tasks == std::vector<TaskRecord>{root, pending, retrying});
    CHECK(loaded->tasks[2].next_attempt_at == at_us(1'500'000));
    CHECK(loaded->tasks[2].retry.backoff == 1.5);
    CHECK(loaded->tasks[2].status == TaskStatus::retrying);
    CHECK(loaded->spec == spec);
}

TEST_CASE("Store contract: history is only appended to, and each save_tasks is one transaction", "[store][contract]") {
    const auto backend = make_store_backend();
    const auto store = backend->open();
    const auto id = store->create_job(contract_spec());

    const auto started = record("0", TaskStatus::started);
    REQUIRE(started.history.size() == 2);
    store->save_tasks(id, Batch{{0, &started}});

    // The store writes the entries past the saved ones; those before are never rewritten.
    auto finished = record("0", TaskStatus::succeeded, {{"files", 2}});
    finished.history[0].reason = "rewritten";
    store->save_tasks(id, Batch{{0, &finished, 2}});
    auto loaded = store->load(id);
    REQUIRE(loaded.has_value());
    REQUIRE(loaded->tasks.size() == 1);
    CHECK(history_statuses(loaded->tasks[0]) ==
          std::vector<TaskStatus>{TaskStatus::pending, TaskStatus::started, TaskStatus::succeeded});
    CHECK(loaded->tasks[0].history[0].reason.empty());
    CHECK(loaded->tasks[0].status == TaskStatus::succeeded);
    CHECK(loaded->tasks[0].output == json{{"files", 2}});

    // A batch that fails part-way leaves nothing of itself behind: here a new task is followed by
    // a second insert of a known one, then by an update of a task never saved.
    const auto child = record("0-0", TaskStatus::pending);
    const auto again = record("0", TaskStatus::pending);
    CHECK_THROWS_AS(store->save_tasks(id, Batch{{1, &child}, {0, &again}}), StoreError);
    const auto never = record("0-1", TaskStatus::started);
    CHECK_THROWS_AS(store->save_tasks(id, Batch{{1, &child}, {2, &never, 1}}), StoreError);
    CHECK_THROWS_WITH(store->save_tasks(id, Batch{{2, &never, 1}}), Catch::Contains("never saved"));
    // Text that is not UTF-8 is refused, not written changed.
    const auto garbled = record("0-1", TaskStatus::succeeded, {{"name", "caf\xe9"}});
    CHECK_THROWS_WITH(store->save_tasks(id, Batch{{1, &child}, {2, &garbled}}),
                      Catch::Contains("cannot write") && Catch::Contains("\"0-1\""));
    loaded = store->load(id);
    REQUIRE(loaded.has_value());
    REQUIRE(loaded->tasks.size() == 1);
    CHECK(loaded->tasks[0].history.size() == 3);

    // An empty batch of a known job changes nothing.
    store->save_tasks(id, Batch{});
    CHECK(store->load(id)->tasks == loaded->tasks);
}

TEST_CASE("Store contract: saving several tasks from several threads", "[store][contract]") {
    constexpr std::size_t threads = 4;
    constexpr std::size_t per_thread = 25;
    const auto backend = make_store_backend();
    const auto shared = backend->open();
    const auto other = backend->open();
    const auto id = shared->create_job(contract_spec());

    std::array<std::exception_ptr, threads> errors{};
    std::vector<std::thread> writers;
    for (std::size_t t = 0; t < threads; ++t) {
        JobStore* target = t % 2 == 1 ? other.get() : shared.get();
        writers.emplace_back([target, &errors, &id, t] {
            try {
                for (std::size_t i = 0; i < per_thread; ++i) {
                    const std::size_t position = t * per_thread + i;
                    const auto r = record(std::to_string(position), TaskStatus::succeeded, {{"n", position}});
                    target->save_tasks(id, Batch{{position, &r}});
                }
            } catch (...) {
                errors[t] = std::current_exception();
            }
        });
    }
    for (auto& writer : writers) writer.join();
    for (const auto& error : errors) {
        if (error) std::rethrow_exception(error);
    }
    const auto loaded = shared->load(id);
    REQUIRE(loaded.has_value());
    REQUIRE(loaded->tasks.size() == threads * per_thread);
    for (std::size_t position = 0; position < threads * per_thread; ++position) {
        CHECK(loaded->tasks[position] == record(std::to_string(position), TaskStatus::succeeded, {{"n", position}}));
    }
}

TEST_CASE("Store contract: a result is saved, cleared and saved again", "[store][contract]") {
    const auto backend = make_store_backend();
    const auto store = backend->open();
    const auto id = store->create_job(contract_spec());
    const auto root = record("0", TaskStatus::succeeded, {{"files", 1}});
    const auto child = retrying_record();
    store->save_tasks(id, Batch{{0, &root}, {1, &child}});

    const auto result = finished_result({root, child});
    store->save_result(id, result);
    auto loaded = backend->open()->load(id);
    REQUIRE(loaded.has_value());
    REQUIRE(loaded->result.has_value());
    CHECK(*loaded->result == result);
    CHECK(loaded->tasks == std::vector<TaskRecord>{root, child});

    store->clear_result(id);
    loaded = store->load(id);
    REQUIRE(loaded.has_value());
    CHECK_FALSE(loaded->result.has_value());
    CHECK(loaded->tasks == std::vector<TaskRecord>{root, child});

    store->clear_result(id);  // clearing twice is fine
    store->save_result(id, result);
    CHECK(store->load(id)->result == result);
}

TEST_CASE("Store contract: ids oldest first, listings newest first with status and counts", "[store][contract]") {
    const auto backend = make_store_backend();
    const auto store = backend->open();
    CHECK(store->job_ids().empty());
    CHECK(store->list_jobs().empty());

    const Timestamp before = now_utc();
    std::vector<std::string> created;
    for (int i = 0; i < 5; ++i) created.push_back(store->create_job(contract_spec(fmt::format("import-{}", i))));
    const Timestamp after = now_utc();
    CHECK(store->job_ids() == created);
    CHECK(std::set<std::string>(created.begin(), created.end()).size() == created.size());
    CHECK(store->load(created[3])->spec.name == "import-3");

    // Job 1 has a result, job 2 three tasks of which two are final, job 3 a live holder.
    const auto root = record("0", TaskStatus::succeeded);
    const auto planned = record("0-0", TaskStatus::planned);
    const auto pending = record("0-1", TaskStatus::pending);
    store->save_tasks(created[1], Batch{{0, &root}});
    store->save_result(created[1], finished_result({root}));
    store->save_tasks(created[2], Batch{{0, &root}, {1, &planned}, {2, &pending}});
    store->acquire_lease(created[3], holder_named("lister"), std::chrono::minutes(1));

    const auto jobs = store->list_jobs();
    REQUIRE(jobs.size() == 5);
    std::vector<std::string> listed;
    for (const auto& job : jobs) listed.push_back(job.id);
    CHECK(listed == std::vector<std::string>(created.rbegin(), created.rend()));
    CHECK(summary_of(jobs, created[0]).status == "pending");
    CHECK(summary_of(jobs, created[0]).name == "import-0");
    CHECK(summary_of(jobs, created[0]).total == 2);  // never ran: the spec's tasks
    CHECK(summary_of(jobs, created[0]).done == 0);
    CHECK(summary_of(jobs, created[1]).status == "failed");
    CHECK(summary_of(jobs, created[1]).done == 1);
    CHECK(summary_of(jobs, created[1]).total == 1);
    CHECK(summary_of(jobs, created[2]).status == "pending");
    CHECK(summary_of(jobs, created[2]).done == 2);
    CHECK(summary_of(jobs, created[2]).total == 3);
    CHECK(summary_of(jobs, created[3]).status == "running");
    for (const auto& job : jobs) {
        CHECK(before <= job.created_at);
        CHECK(job.created_at <= after);
        CHECK(job.created_at <= job.updated_at);
    }
    CHECK(summary_of(jobs, created[1]).updated_at >= after);  // changed after the last creation

    // A released lease, or one of a process that has exited, runs nothing.
    store->release_lease(created[3], holder_named("lister"));
    CHECK(summary_of(store->list_jobs(), created[3]).status == "pending");
    store->acquire_lease(created[3], holder_named("gone", exited_pid()), std::chrono::minutes(1));
    CHECK(summary_of(store->list_jobs(), created[3]).status == "pending");
}

TEST_CASE("Store contract: a lease is held by one run at a time", "[store][contract][lease]") {
    const auto backend = make_store_backend();
    const auto store = backend->open();
    const auto other_store = backend->open();  // another process, as far as the store can tell
    const auto id = store->create_job(contract_spec());
    const auto first = holder_named("first");
    const auto second = holder_named("second");
    const auto minute = std::chrono::milliseconds(60'000);

    store->acquire_lease(id, first, minute);
    store->acquire_lease(id, first, minute);  // taking it again is renewing it

    SECTION("a live holder keeps it, and is named") {
        const std::string expected = fmt::format(
            "Job {} is being run by another process \\(pid {} on host {}, lease until "
            "\\d{{4}}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{{6}}Z\\)",
            id, first.pid, first.host);
        CHECK_THROWS_AS(other_store->acquire_lease(id, second, minute), JobBusyError);
        CHECK_THROWS_WITH(other_store->acquire_lease(id, second, minute), Catch::Matches(expected));

        // A holder on another machine cannot be checked, only waited for.
        auto remote = holder_named("remote", 1);
        remote.host = "build-agent-7.example";
        const auto job2 = store->create_job(contract_spec());
        store->acquire_lease(job2, remote, minute);
        CHECK_THROWS_AS(other_store->acquire_lease(job2, second, minute), JobBusyError);
    }

    SECTION("renewal tells the holder whether it still holds it") {
        auto renewal = store->renew_lease(id, first, minute);
        CHECK(renewal.held);
        CHECK_FALSE(renewal.cancel_reason.has_value());
        renewal = other_store->renew_lease(id, second, minute);
        CHECK_FALSE(renewal.held);
        // A failed renewal took nothing: the holder is unchanged.
        CHECK_THROWS_AS(other_store->acquire_lease(id, second, minute), JobBusyError);
    }

    SECTION("release frees it, only for its holder") {
        other_store->release_lease(id, second);  // not the holder: nothing happens
        CHECK_THROWS_AS(other_store->acquire_lease(id, second, minute), JobBusyError);
        store->release_lease(id, first);
        other_store->acquire_lease(id, second, minute);
        CHECK_FALSE(store->renew_lease(id, first, minute).held);
        CHECK(other_store->renew_lease(id, second, minute).held);
    }

    SECTION("an expired lease is taken over") {
        store->acquire_lease(id, first, std::chrono::milliseconds(1));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        other_store->acquire_lease(id, second, minute);
        CHECK_FALSE(store->renew_lease(id, first, minute).held);
        CHECK(other_store->renew_lease(id, second, minute).held);
    }

    SECTION("a lease of a process of this machine that has exited is taken over at once") {
        const auto job2 = store->create_job(contract_spec());
        const auto gone = holder_named("gone", exited_pid());
        store->acquire_lease(job2, gone, minute);
        other_store->acquire_lease(job2, second, minute);
        CHECK(other_store->renew_lease(job2, second, minute).held);
    }
}

TEST_CASE("Store contract: a cancel request reaches the holder at its next renewal", "[store][contract][lease]") {
    const auto backend = make_store_backend();
    const auto store = backend->open();
    const auto id = store->create_job(contract_spec());
    const auto quiet = store->create_job(contract_spec());
    const auto holder = holder_named("runner");
    const auto minute = std::chrono::milliseconds(60'000);
    store->acquire_lease(id, holder, minute);
    store->acquire_lease(quiet, holder, minute);

    backend->open()->request_cancel(id, "Stopped by the operator");
    const auto renewal = store->renew_lease(id, holder, minute);
    CHECK(renewal.held);
    REQUIRE(renewal.cancel_reason.has_value());
    CHECK(*renewal.cancel_reason == "Stopped by the operator");
    CHECK_FALSE(store->renew_lease(quiet, holder, minute).cancel_reason.has_value());
    // It stays requested: the next renewal, and a later run, hear it too.
    CHECK(store->renew_lease(id, holder, minute).cancel_reason ==
          std::optional<std::string>("Stopped by the operator"));
    store->release_lease(id, holder);
    const auto next = holder_named("next");
    store->acquire_lease(id, next, minute);
    CHECK(store->renew_lease(id, next, minute).cancel_reason == std::optional<std::string>("Stopped by the operator"));
}

TEST_CASE("Store contract: unknown jobs", "[store][contract]") {
    const auto backend = make_store_backend();
    const auto store = backend->open();
    const auto known = store->create_job(contract_spec());
    const auto root = record("0", TaskStatus::succeeded);
    const auto holder = holder_named("lost");
    const auto minute = std::chrono::milliseconds(60'000);
    const auto names_job = Catch::Contains("\"job-missing\"");

    CHECK_FALSE(store->load("job-000000000000").has_value());
    CHECK_FALSE(store->load("").has_value());
    CHECK_THROWS_AS(store->save_tasks("job-missing", Batch{{0, &root}}), StoreError);
    CHECK_THROWS_WITH(store->save_tasks("job-missing", Batch{{0, &root}}), names_job);
    CHECK_THROWS_WITH(store->save_tasks("job-missing", Batch{}), names_job);
    CHECK_THROWS_AS(store->save_result("job-missing", finished_result({root})), StoreError);
    CHECK_THROWS_WITH(store->save_result("job-missing", finished_result({root})), names_job);
    CHECK_THROWS_WITH(store->clear_result("job-missing"), names_job);
    CHECK_THROWS_AS(store->acquire_lease("job-missing", holder, minute), StoreError);
    CHECK_THROWS_WITH(store->acquire_lease("job-missing", holder, minute), names_job);
    CHECK_THROWS_WITH(store->renew_lease("job-missing", holder, minute), names_job);
    CHECK_NOTHROW(store->release_lease("job-missing", holder));  // nobody holds it: nothing to give up
    CHECK_THROWS_WITH(store->request_cancel("job-missing", "no reason"), names_job);

    // The failed writes left nothing behind.
    CHECK(store->job_ids() == std::vector<std::string>{known});
    CHECK(store->load(known)->tasks.empty());
    CHECK(store->list_jobs().size() == 1);
}

TEST_CASE("Store contract: a store written by a newer schema version is refused", "[store][contract]") {
    const auto backend = make_store_backend();
    std::string id;
    {
        const auto store = backend->open();
        id = store->create_job(contract_spec());
    }
    { backend->open(); }  // opening a store it wrote changes nothing
    backend->set_schema_version(99);
    try {
        backend->open();
        FAIL("a store with schema version 99 was opened");
    } catch (const StoreError& error) {
        CHECK_THAT(error.what(), Catch::Contains("schema version 99") && Catch::Contains("this build reads version "));
    }
}
