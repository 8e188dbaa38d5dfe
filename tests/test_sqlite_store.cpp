// Section 10: the SQLite job store keeps specs, task records and results, across store objects
// and across a crash.
#include "helpers.hpp"

#include "model/json_limits.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <array>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace jobgraph;
using namespace jobgraph::testing;

namespace {

namespace fs = std::filesystem;

/// A database path under the temp directory, removed with its -wal and -shm at the end.
class TempDb {
public:
    TempDb() {
        std::random_device device;
        const std::uint64_t bits = (std::uint64_t{device()} << 32) | device();
        path_ = fs::temp_directory_path() / fmt::format("jobgraph-store-test-{}.db", bits);
    }
    ~TempDb() {
        for (const auto& file : {path_, sidecar("-wal"), sidecar("-shm")}) {
            std::error_code ignored;
            fs::remove(file, ignored);
        }
    }
    TempDb(const TempDb&) = delete;
    TempDb& operator=(const TempDb&) = delete;

    const fs::path& path() const noexcept { return path_; }
    fs::path sidecar(const std::string& suffix) const { return fs::path(path_.string() + suffix); }

private:
    fs::path path_;
};

Timestamp at_us(std::int64_t offset) {
    return Timestamp{std::chrono::microseconds{1'790'000'000'000'000 + offset}};
}

JobSpec photo_spec() {
    JobSpec spec = job({task("fs", "scan", {{"dir", "/photos/2026"}}, {}, "scan"),
                        task("img", "thumbnail", {{"size", 256}, {"format", "webp"}}, {"scan"})},
                       "photo-import");
    spec.mode = Mode::sequential;
    spec.limits = JobLimits{50, 3, std::chrono::milliseconds(30'000)};
    spec.abort_on_failure = false;
    spec.require_approval = true;
    return spec;
}

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

std::string nested_text(std::size_t levels) {
    return std::string(levels, '[') + std::string(levels, ']');
}

// `text` with its one `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    REQUIRE(text.find(from, at + 1) == std::string::npos);
    return text.replace(at, from.size(), to);
}

// Writes `text` into the file behind the store's back, as damage or a foreign writer would:
// `sql` has one parameter, ?1, the text.
void write_directly(const fs::path& file, const char* sql, const std::string& text) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(file.string().c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_bind_text64(statement, 1, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8) == SQLITE_OK);
    const int rc = sqlite3_step(statement);
    const int changes = sqlite3_changes(db);
    sqlite3_finalize(statement);
    sqlite3_close_v2(db);
    REQUIRE(rc == SQLITE_DONE);
    REQUIRE(changes == 1);
}

std::string store_error_of(const SqliteStore& store, const std::string& id) {
    try {
        store.load(id);
    } catch (const StoreError& error) {
        return error.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("SqliteStore round-trips a job's spec", "[store]") {
    const TempDb db;
    SqliteStore store(db.path());
    const auto spec = photo_spec();
    const auto id = store.create_job(spec);

    CHECK(std::regex_match(id, std::regex("job-[0-9a-f]{12}")));
    const auto loaded = store.load(id);
    REQUIRE(loaded.has_value());
    CHECK(loaded->id == id);
    CHECK(loaded->spec == spec);
    CHECK(loaded->tasks.empty());
    CHECK_FALSE(loaded->result.has_value());
    // Written in WAL mode: committed transactions live in the -wal file until a checkpoint.
    CHECK(fs::exists(db.sidecar("-wal")));
}

TEST_CASE("SqliteStore save_tasks inserts new records and appends to known ones", "[store]") {
    const TempDb db;
    SqliteStore store(db.path());
    const auto id = store.create_job(photo_spec());

    const auto root_started = record("0", TaskStatus::started);
    const auto third = record("0-1", TaskStatus::pending);
    store.save_tasks(id, Batch{{2, &third}, {0, &root_started}});

    auto loaded = store.load(id);
    REQUIRE(loaded.has_value());
    CHECK(loaded->tasks == std::vector<TaskRecord>{root_started, third});

    // The root finishes and its first child is recorded: position 0 is updated, not duplicated,
    // and its history gains the entry past the two saved before.
    const auto root_done = record("0", TaskStatus::succeeded, {{"files", 2}});
    const auto second = record("0-0", TaskStatus::failed, {{"error", "disk full"}});
    REQUIRE(root_started.history.size() == 2);
    store.save_tasks(id, Batch{{0, &root_done, 2}, {1, &second}});

    loaded = store.load(id);
    REQUIRE(loaded.has_value());
    REQUIRE(loaded->tasks.size() == 3);
    CHECK(loaded->tasks == std::vector<TaskRecord>{root_done, second, third});
    CHECK(loaded->tasks[0].history.size() == 3);
    CHECK(loaded->tasks[1].history.back().reason == "disk full");

    // An empty batch of a known job is a no-op.
    store.save_tasks(id, Batch{});
    CHECK(store.load(id)->tasks == std::vector<TaskRecord>{root_done, second, third});
}

TEST_CASE("SqliteStore saves and clears a job's result", "[store]") {
    const TempDb db;
    SqliteStore store(db.path());
    const auto id = store.create_job(photo_spec());
    const auto root = record("0", TaskStatus::succeeded, {{"files", 1}});
    const auto child = record("0-0", TaskStatus::failed);
    store.save_tasks(id, Batch{{0, &root}, {1, &child}});

    const auto result = finished_result({root, child});
    store.save_result(id, result);
    auto loaded = store.load(id);
    REQUIRE(loaded.has_value());
    REQUIRE(loaded->result.has_value());
    CHECK(*loaded->result == result);
    CHECK(loaded->result->stats.failed == 1);
    CHECK(loaded->tasks == std::vector<TaskRecord>{root, child});

    store.clear_result(id);
    loaded = store.load(id);
    REQUIRE(loaded.has_value());
    CHECK_FALSE(loaded->result.has_value());
    CHECK(loaded->tasks == std::vector<TaskRecord>{root, child});
    CHECK(loaded->spec == photo_spec());

    // Clearing twice is fine; saving again sets it again.
    store.clear_result(id);
    store.save_result(id, result);
    CHECK(store.load(id)->result == result);
}

TEST_CASE("SqliteStore reports unknown jobs", "[store]") {
    const TempDb db;
    SqliteStore store(db.path());
    const auto known = store.create_job(photo_spec());
    const auto root = record("0", TaskStatus::succeeded);

    CHECK_FALSE(store.load("job-000000000000").has_value());
    CHECK_FALSE(store.load("").has_value());
    CHECK_THROWS_AS(store.save_tasks("job-missing", Batch{{0, &root}}), StoreError);
    CHECK_THROWS_WITH(store.save_tasks("job-missing", Batch{{0, &root}}), Catch::Contains("\"job-missing\""));
    CHECK_THROWS_WITH(store.save_tasks("job-missing", Batch{}), Catch::Contains("\"job-missing\""));
    CHECK_THROWS_AS(store.save_result("job-missing", finished_result({root})), StoreError);
    CHECK_THROWS_WITH(store.save_result("job-missing", finished_result({root})), Catch::Contains("\"job-missing\""));
    CHECK_THROWS_AS(store.clear_result("job-missing"), StoreError);
    CHECK_THROWS_WITH(store.clear_result("job-missing"), Catch::Contains("\"job-missing\""));

    // The failed writes left nothing behind.
    CHECK(store.job_ids() == std::vector<std::string>{known});
    CHECK(store.load(known)->tasks.empty());
}

TEST_CASE("SqliteStore lists job ids oldest first", "[store]") {
    const TempDb db;
    SqliteStore store(db.path());
    std::vector<std::string> created;
    for (int i = 0; i < 20; ++i) {
        auto spec = photo_spec();
        spec.name = fmt::format("import-{}", i);
        created.push_back(store.create_job(spec));
    }
    CHECK(store.job_ids() == created);
    CHECK(std::set<std::string>(created.begin(), created.end()).size() == created.size());
    CHECK(store.load(created[7])->spec.name == "import-7");
}

TEST_CASE("Two SqliteStore objects on one file see each other's writes", "[store]") {
    const TempDb db;
    SqliteStore first(db.path());
    SqliteStore second(db.path());

    const auto a = first.create_job(photo_spec());
    REQUIRE(second.load(a).has_value());
    CHECK(second.load(a)->spec == photo_spec());

    const auto root = record("0", TaskStatus::succeeded, {{"files", 3}});
    second.save_tasks(a, Batch{{0, &root}});
    CHECK(first.load(a)->tasks == std::vector<TaskRecord>{root});

    const auto b = second.create_job(photo_spec());
    CHECK(first.job_ids() == std::vector<std::string>{a, b});
    CHECK(second.job_ids() == std::vector<std::string>{a, b});

    const auto result = finished_result({root});
    first.save_result(b, result);
    CHECK(second.load(b)->result == result);
    second.clear_result(b);
    CHECK_FALSE(first.load(b)->result.has_value());
}

TEST_CASE("SqliteStore keeps everything across a restart and a crash", "[store]") {
    const TempDb db;
    const auto spec = photo_spec();
    const auto root = record("0", TaskStatus::succeeded, {{"files", 2}});
    const auto child = record("0-0", TaskStatus::started);
    const auto result = finished_result({root, child});
    std::string running;
    std::string finished;

    SECTION("the store is destroyed and reopened") {
        {
            SqliteStore store(db.path());
            running = store.create_job(spec);
            store.save_tasks(running, Batch{{0, &root}, {1, &child}});
            finished = store.create_job(spec);
            store.save_result(finished, result);
        }
        SqliteStore reopened(db.path());
        CHECK(reopened.job_ids() == std::vector<std::string>{running, finished});
        const auto loaded = reopened.load(running);
        REQUIRE(loaded.has_value());
        CHECK(loaded->spec == spec);
        CHECK(loaded->tasks == std::vector<TaskRecord>{root, child});
        CHECK_FALSE(loaded->result.has_value());
        CHECK(reopened.load(finished)->result == result);
    }

    SECTION("the files are taken as a crashed process leaves them") {
        // Copying the database and its WAL while the writer is still open gives the files a
        // process crash would leave: commits in the WAL, nothing checkpointed, no clean close.
        const TempDb crashed;
        {
            SqliteStore store(db.path());
            running = store.create_job(spec);
            store.save_tasks(running, Batch{{0, &root}, {1, &child}});
            finished = store.create_job(spec);
            store.save_result(finished, result);
            REQUIRE(fs::exists(db.sidecar("-wal")));
            fs::copy_file(db.path(), crashed.path());
            fs::copy_file(db.sidecar("-wal"), crashed.sidecar("-wal"));
        }
        SqliteStore recovered(crashed.path());
        CHECK(recovered.job_ids() == std::vector<std::string>{running, finished});
        const auto loaded = recovered.load(running);
        REQUIRE(loaded.has_value());
        CHECK(loaded->spec == spec);
        CHECK(loaded->tasks == std::vector<TaskRecord>{root, child});
        CHECK(recovered.load(finished)->result == result);
    }
}

TEST_CASE("SqliteStore takes save_tasks from several threads", "[store]") {
    constexpr std::size_t threads = 4;
    constexpr std::size_t per_thread = 200;
    const TempDb db;
    SqliteStore store(db.path());
    SqliteStore other(db.path());
    const auto id = store.create_job(photo_spec());

    // One store shared by every thread, or two (as two processes would), two threads each.
    const bool two_stores = GENERATE(false, true);
    std::array<std::exception_ptr, threads> errors{};
    std::vector<std::thread> writers;
    for (std::size_t t = 0; t < threads; ++t) {
        JobStore* target = two_stores && t % 2 == 1 ? static_cast<JobStore*>(&other) : &store;
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

    const auto loaded = store.load(id);
    REQUIRE(loaded.has_value());
    REQUIRE(loaded->tasks.size() == threads * per_thread);
    for (std::size_t position = 0; position < threads * per_thread; ++position) {
        CHECK(loaded->tasks[position] == record(std::to_string(position), TaskStatus::succeeded, {{"n", position}}));
    }
}

TEST_CASE("SqliteStore refuses files it cannot use", "[store]") {
    const TempDb db;

    SECTION("a file that is not a SQLite database") {
        {
            std::ofstream out(db.path(), std::ios::binary);
            for (int i = 0; i < 200; ++i) out << "photo,size,taken\nIMG_0001.jpg,2048,2026-01-01\n";
        }
        CHECK_THROWS_AS(SqliteStore(db.path()), StoreError);
        CHECK_THROWS_WITH(SqliteStore(db.path()),
                          Catch::Contains(db.path().string()) && Catch::Contains("file is not a database"));
    }

    SECTION("a path in a directory that does not exist") {
        const auto path = db.path() / "missing" / "jobs.db";
        CHECK_THROWS_AS(SqliteStore(path), StoreError);
        CHECK_THROWS_WITH(SqliteStore(path), Catch::Contains(path.string()));
    }

    SECTION("a store written by a newer schema version") {
        { SqliteStore(db.path()).create_job(photo_spec()); }
        REQUIRE_FALSE(fs::exists(db.sidecar("-wal")));  // checkpointed on close
        {
            // user_version is the big-endian 32-bit integer at offset 60 of the header.
            std::fstream file(db.path(), std::ios::binary | std::ios::in | std::ios::out);
            file.seekp(60);
            const char version[4] = {0, 0, 0, 99};
            file.write(version, 4);
        }
        CHECK_THROWS_WITH(SqliteStore(db.path()), Catch::Contains("schema version 99"));
    }

    SECTION("a SQLite database of another application") {
        { SqliteStore(db.path()).create_job(photo_spec()); }
        REQUIRE_FALSE(fs::exists(db.sidecar("-wal")));
        {
            // application_id is the big-endian 32-bit integer at offset 68 of the header.
            std::fstream file(db.path(), std::ios::binary | std::ios::in | std::ios::out);
            file.seekp(68);
            const char app[4] = {'G', 'P', 'K', 'G'};
            file.write(app, 4);
        }
        CHECK_THROWS_WITH(SqliteStore(db.path()), Catch::Contains("another application"));
    }
}

TEST_CASE("SqliteStore refuses stored records nested deeper than 512 levels", "[store][limits]") {
    const TempDb db;
    SqliteStore store(db.path());
    const auto id = store.create_job(photo_spec());
    const auto root = record("0", TaskStatus::succeeded);  // output null, written as "output":null
    store.save_tasks(id, Batch{{0, &root}});
    // The changing part of a task's row, as the store keeps it in the tasks table.
    const std::string record_text =
        R"({"attempts":1,"children":[],"completedAt":null,"output":null,"startedAt":null,"trace":null})";
    const std::string spec_text = json(photo_spec()).dump();
    const std::string message_head = "SqliteStore: job \"" + id + "\" in " + db.path().string() + " has an unreadable ";

    SECTION("a task record's output") {
        const char* sql = "UPDATE tasks SET outcome = ?1 WHERE position = 0";
        write_directly(db.path(), sql, replaced(record_text, R"("output":null)", R"("output":)" + nested_text(512)));
        const auto loaded = store.load(id);
        REQUIRE(loaded.has_value());
        CHECK(jobgraph::detail::depth_exceeds(loaded->tasks[0].output, 511));

        for (const std::size_t levels : {std::size_t{513}, std::size_t{100'000}}) {
            write_directly(db.path(), sql,
                           replaced(record_text, R"("output":null)", R"("output":)" + nested_text(levels)));
            const std::string expected = message_head + "task record \"0\": a value nests deeper than 512 levels";
            CHECK(store_error_of(store, id) == expected);
            // Resuming reads the same records, and stops at the same error.
            CHECK_THROWS_WITH(Orchestrator(basic_registry(), {.workers = 1}).resume(id, store), expected);
        }
    }

    SECTION("a spec's task input") {
        const char* sql = "UPDATE jobs SET spec = ?1";
        const std::string input = R"("input":{"dir":"/photos/2026"})";
        write_directly(db.path(), sql, replaced(spec_text, input, R"("input":{"v":)" + nested_text(511) + "}"));
        const auto loaded = store.load(id);
        REQUIRE(loaded.has_value());
        CHECK(jobgraph::detail::depth_exceeds(loaded->spec.tasks[0].input, 511));

        for (const std::size_t levels : {std::size_t{513}, std::size_t{100'000}}) {
            write_directly(db.path(), sql,
                           replaced(spec_text, input, R"("input":{"v":)" + nested_text(levels - 1) + "}"));
            CHECK(store_error_of(store, id) == message_head + "spec: a value nests deeper than 512 levels");
        }
    }

    SECTION("a result's task output") {
        store.save_result(id, finished_result({root}));
        const char* sql = "UPDATE jobs SET result = ?1";
        const std::string result_text = json(finished_result({root})).dump();
        write_directly(db.path(), sql, replaced(result_text, R"("output":null)", R"("output":)" + nested_text(512)));
        const auto loaded = store.load(id);
        REQUIRE(loaded.has_value());
        REQUIRE(loaded->result.has_value());
        CHECK(jobgraph::detail::depth_exceeds(loaded->result->tasks[0].output, 511));

        for (const std::size_t levels : {std::size_t{513}, std::size_t{100'000}}) {
            write_directly(db.path(), sql,
                           replaced(result_text, R"("output":null)", R"("output":)" + nested_text(levels)));
            CHECK(store_error_of(store, id) == message_head + "result: a value nests deeper than 512 levels");
        }
    }
}

TEST_CASE("SqliteStore refuses a stored task without history entries", "[store]") {
    const TempDb db;
    SqliteStore store(db.path());
    const auto id = store.create_job(photo_spec());
    const auto root = record("0", TaskStatus::pending);  // one history entry
    store.save_tasks(id, Batch{{0, &root}});
    write_directly(db.path(), "DELETE FROM task_history WHERE position = 0 AND ?1 = ''", "");

    const std::string expected = "SqliteStore: job \"" + id + "\" in " + db.path().string() +
                                 " has an unreadable task record \"0\": it has no history entries";
    CHECK(store_error_of(store, id) == expected);
    // Resuming would run the task and then fail to save it as a new one: it stops here instead.
    CHECK_THROWS_WITH(Orchestrator(basic_registry(), {.workers = 1}).resume(id, store), expected);
}

TEST_CASE("SqliteStore refuses to write a spec whose input nests deeper than 512 levels", "[store][limits]") {
    const TempDb db;
    SqliteStore store(db.path());
    JobSpec spec = photo_spec();
    json deep = json::array();
    json* inner = &deep;
    for (int i = 1; i < 100'000; ++i) inner = &inner->emplace_back(json::array());
    spec.tasks[1].input["levels"] = std::move(deep);
    CHECK_THROWS_WITH(store.create_job(spec), "SqliteStore: cannot write the spec of job \"photo-import\" to " +
                                                  db.path().string() +
                                                  ": tasks[1]: \"input\" nests deeper than 512 levels");
    CHECK(store.job_ids().empty());
}
