// Section 10: the SQLite job store keeps specs, task records and results, across store objects
// and across a crash.
#include "helpers.hpp"

#include "model/json_limits.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
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

#include <sys/wait.h>
#include <unistd.h>

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
        const char* sql = "UPDATE job_specs SET spec = ?1";
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

// --- schema version 3: leases, cancel requests, listings, task policy -----------------------

namespace {

// The tables as schema version 2 made them, to check that such a file is migrated.
constexpr const char* version_2_schema = R"sql(
CREATE TABLE jobs (
    id         TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    spec       TEXT NOT NULL,
    result     TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE tasks (
    job_id     TEXT NOT NULL REFERENCES jobs(id),
    position   INTEGER NOT NULL,
    id         TEXT NOT NULL,
    status     TEXT NOT NULL,
    identity   TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    PRIMARY KEY (job_id, position)
) WITHOUT ROWID;
CREATE TABLE task_history (
    job_id     TEXT NOT NULL,
    position   INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    status     TEXT NOT NULL,
    at         TEXT NOT NULL,
    reason     TEXT NOT NULL,
    PRIMARY KEY (job_id, position, seq),
    FOREIGN KEY (job_id, position) REFERENCES tasks(job_id, position)
) WITHOUT ROWID;
PRAGMA application_id = 1246708295;  -- "JOBG"
PRAGMA user_version = 2;
)sql";

void exec_directly(const fs::path& file, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(file.string().c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) ==
            SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close_v2(db);
    INFO(message);
    REQUIRE(rc == SQLITE_OK);
}

std::int64_t user_version_of(const fs::path& file) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(file.string().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    const std::int64_t version = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    sqlite3_close_v2(db);
    return version;
}

std::string sql_text(const std::string& text) {
    std::string quoted = "'";
    for (const char c : text) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    return quoted + "'";
}

// A holder on this machine whose process has exited: a child reaped before it is returned.
LeaseHolder exited_holder() {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    REQUIRE(child > 0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    return LeaseHolder{"exited-holder", LeaseHolder::for_this_process().host, child};
}

std::string busy_message(SqliteStore& store, const std::string& id, const LeaseHolder& holder) {
    try {
        store.acquire_lease(id, holder, std::chrono::seconds(10));
    } catch (const JobBusyError& error) {
        return error.what();
    }
    return "not busy";
}

constexpr std::chrono::milliseconds lease{10'000};
constexpr std::chrono::milliseconds already_expired{-1'000};

}  // namespace

TEST_CASE("SqliteStore migrates a schema version 2 file", "[store]") {
    const TempDb db;
    const auto spec = photo_spec();
    const auto root = record("0", TaskStatus::succeeded, {{"files", 2}});
    const std::string created = "2026-11-01T10:00:00.000000Z";
    {
        std::string sql = version_2_schema;
        sql += fmt::format("INSERT INTO jobs VALUES ('job-00000000000a', 1, 'photo-import', {}, NULL, '{}');",
                           sql_text(json(spec).dump()), created);
        sql += fmt::format("INSERT INTO tasks VALUES ('job-00000000000a', 0, '0', 'succeeded', {}, {});",
                           sql_text(json{{"id", "0"},
                                         {"parentId", nullptr},
                                         {"depth", 0},
                                         {"service", "fs"},
                                         {"command", "stat"},
                                         {"input", root.input},
                                         {"dependsOn", json::array()}}
                                        .dump()),
                           sql_text(json{{"output", root.output},
                                         {"trace", nullptr},
                                         {"children", json::array()},
                                         {"attempts", 1},
                                         {"startedAt", format_timestamp(at_us(10))},
                                         {"completedAt", format_timestamp(at_us(250))}}
                                        .dump()));
        for (std::size_t i = 0; i < root.history.size(); ++i) {
            sql += fmt::format("INSERT INTO task_history VALUES ('job-00000000000a', 0, {}, '{}', '{}', '');", i,
                               to_string(root.history[i].status), format_timestamp(root.history[i].at));
        }
        exec_directly(db.path(), sql);
        REQUIRE(user_version_of(db.path()) == 2);
    }

    SqliteStore store(db.path());
    CHECK(user_version_of(db.path()) == 4);
    const auto loaded = store.load("job-00000000000a");
    REQUIRE(loaded.has_value());
    CHECK(loaded->spec == spec);
    REQUIRE(loaded->tasks.size() == 1);
    CHECK(loaded->tasks[0] == root);
    CHECK_FALSE(loaded->result.has_value());

    // The migrated job has the new columns: a last change (its creation), no lease, no cancel.
    const auto jobs = store.list_jobs();
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0].status == "pending");
    CHECK(format_timestamp(jobs[0].created_at) == created);
    CHECK(format_timestamp(jobs[0].updated_at) == created);
    CHECK(jobs[0].done == 1);
    CHECK(jobs[0].total == 1);
    const auto holder = LeaseHolder::for_this_process();
    store.acquire_lease("job-00000000000a", holder, lease);
    CHECK_FALSE(store.renew_lease("job-00000000000a", holder, lease).cancel_reason.has_value());
    CHECK(store.list_jobs()[0].status == "running");

    // Opening it again finds version 4 and changes nothing.
    const SqliteStore again(db.path());
    CHECK(again.load("job-00000000000a")->tasks == loaded->tasks);
}

TEST_CASE("SqliteStore keeps retry state and what a task runs under", "[store]") {
    const TempDb db;
    SqliteStore store(db.path());
    const auto id = store.create_job(photo_spec());
    TaskRecord root = record("0", TaskStatus::started);
    root.timeout = std::chrono::milliseconds(250);
    root.retry = RetryPolicy{4, std::chrono::milliseconds(20), 3.0, std::chrono::milliseconds(500), false};
    root.priority = -7;
    store.save_tasks(id, Batch{{0, &root, 0}});

    const std::size_t saved = root.history.size();
    root.status = TaskStatus::retrying;
    root.next_attempt_at = at_us(5'000);
    root.history.push_back({TaskStatus::retrying, at_us(300), "Attempt 1 of 4 failed: flaky; next attempt in 20 ms"});
    store.save_tasks(id, Batch{{0, &root, saved}});
    CHECK(store.load(id)->tasks == std::vector<TaskRecord>{root});

    // The next attempt clears the due time again.
    const std::size_t saved_retrying = root.history.size();
    root.status = TaskStatus::started;
    root.next_attempt_at.reset();
    root.attempts = 2;
    root.history.push_back({TaskStatus::started, at_us(5'000), ""});
    store.save_tasks(id, Batch{{0, &root, saved_retrying}});
    CHECK(store.load(id)->tasks == std::vector<TaskRecord>{root});
}

TEST_CASE("SqliteStore keeps cancelled and interrupted results", "[store]") {
    const TempDb db;
    SqliteStore store(db.path());
    const auto id = store.create_job(photo_spec());
    const std::vector<TaskRecord> tasks{record("0", TaskStatus::succeeded), record("1", TaskStatus::pending)};
    store.save_tasks(id, Batch{{0, &tasks[0], 0}, {1, &tasks[1], 0}});
    for (const auto status : {JobStatus::cancelled, JobStatus::interrupted}) {
        JobResult result = finished_result(tasks);
        result.status = status;
        result.error_message =
            status == JobStatus::cancelled ? std::optional<std::string>("Job cancelled: enough") : std::nullopt;
        store.save_result(id, result);
        CHECK(store.load(id)->result == result);
        CHECK(store.list_jobs()[0].status == to_string(status));
    }
}

TEST_CASE("SqliteStore leases: one holder at a time", "[store][lease]") {
    const TempDb db;
    SqliteStore store(db.path());
    SqliteStore other_store(db.path());  // as another process would see the file
    const auto id = store.create_job(photo_spec());
    const auto holder = LeaseHolder::for_this_process();
    LeaseHolder rival = LeaseHolder::for_this_process();
    REQUIRE(rival.id != holder.id);

    SECTION("a free job is taken; a second holder is refused with the holder named") {
        store.acquire_lease(id, holder, lease);
        const std::string message = busy_message(other_store, id, rival);
        CHECK_THAT(message, Catch::StartsWith(fmt::format("Job {} is being run by another process (pid {} on host {}, "
                                                          "lease until ",
                                                          id, holder.pid, holder.host)));
        CHECK(std::regex_search(message, std::regex(R"(lease until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\)$)")));
        CHECK_THROWS_AS(other_store.acquire_lease(id, rival, lease), StoreError);  // JobBusyError is one
        // The holder itself takes it again (a renewal).
        CHECK_NOTHROW(store.acquire_lease(id, holder, lease));
    }
    SECTION("a holder on another machine is waited for until its lease expires") {
        const LeaseHolder remote{"remote-holder", "elsewhere.example", 1};
        store.acquire_lease(id, remote, lease);
        CHECK_THAT(busy_message(other_store, id, rival), Catch::Contains("pid 1 on host elsewhere.example"));
        store.acquire_lease(id, remote, already_expired);  // as if it had stopped renewing
        CHECK_NOTHROW(other_store.acquire_lease(id, rival, lease));
        CHECK_FALSE(store.renew_lease(id, remote, lease).held);
        CHECK(other_store.renew_lease(id, rival, lease).held);
    }
    SECTION("an expired lease of a live process on this machine is taken over") {
        store.acquire_lease(id, holder, already_expired);
        CHECK_NOTHROW(other_store.acquire_lease(id, rival, lease));
        CHECK_FALSE(store.renew_lease(id, holder, lease).held);
    }
    SECTION("a current lease whose holder on this machine has exited is taken over at once") {
        const LeaseHolder exited = exited_holder();
        store.acquire_lease(id, exited, lease);
        CHECK_NOTHROW(other_store.acquire_lease(id, rival, lease));
        CHECK(other_store.renew_lease(id, rival, lease).held);
    }
    SECTION("a released lease frees the job; a release by anyone else changes nothing") {
        store.acquire_lease(id, holder, lease);
        other_store.release_lease(id, rival);
        CHECK_THROWS_AS(other_store.acquire_lease(id, rival, lease), JobBusyError);
        store.release_lease(id, holder);
        CHECK_NOTHROW(other_store.acquire_lease(id, rival, lease));
        CHECK_FALSE(store.renew_lease(id, holder, lease).held);
    }
    SECTION("an unknown job") {
        CHECK_THROWS_WITH(store.acquire_lease("job-missing", holder, lease), Catch::Contains("\"job-missing\""));
        CHECK_THROWS_WITH(store.renew_lease("job-missing", holder, lease), Catch::Contains("\"job-missing\""));
        CHECK_THROWS_WITH(store.request_cancel("job-missing", "why"), Catch::Contains("\"job-missing\""));
        CHECK_THROWS_AS(store.request_cancel("job-missing", "why"), StoreError);
    }
}

TEST_CASE("SqliteStore hands a cancel request to the holder's next renewal", "[store][lease]") {
    const TempDb db;
    SqliteStore store(db.path());
    SqliteStore canceller(db.path());
    const auto id = store.create_job(photo_spec());
    const auto other = store.create_job(photo_spec());
    const auto holder = LeaseHolder::for_this_process();
    store.acquire_lease(id, holder, lease);

    const LeaseRenewal before = store.renew_lease(id, holder, lease);
    CHECK(before.held);
    CHECK_FALSE(before.cancel_reason.has_value());

    canceller.request_cancel(id, "operator asked");
    canceller.request_cancel(id, "a second request");  // the first one wins
    const LeaseRenewal after = store.renew_lease(id, holder, lease);
    CHECK(after.held);
    CHECK(after.cancel_reason == std::optional<std::string>("operator asked"));
    // Only that job.
    store.acquire_lease(other, holder, lease);
    CHECK_FALSE(store.renew_lease(other, holder, lease).cancel_reason.has_value());
}

TEST_CASE("SqliteStore lists jobs newest first with their status and counts", "[store]") {
    const TempDb db;
    SqliteStore store(db.path());
    auto spec = photo_spec();
    spec.name = "partly-done";
    const auto partly_done = store.create_job(spec);
    spec.name = "finished";
    const auto finished = store.create_job(spec);
    spec.name = "never-ran";
    const auto never_ran = store.create_job(spec);
    spec.name = "running";
    const auto running = store.create_job(spec);
    spec.name = "holder-died";
    const auto holder_died = store.create_job(spec);

    const std::vector<TaskRecord> half{record("0", TaskStatus::succeeded), record("1", TaskStatus::started),
                                       record("2", TaskStatus::planned)};
    store.save_tasks(partly_done, Batch{{0, &half[0], 0}, {1, &half[1], 0}, {2, &half[2], 0}});
    const std::vector<TaskRecord> all{record("0", TaskStatus::succeeded), record("1", TaskStatus::failed)};
    store.save_tasks(finished, Batch{{0, &all[0], 0}, {1, &all[1], 0}});
    store.save_result(finished, finished_result(all));
    store.acquire_lease(running, LeaseHolder::for_this_process(), lease);
    store.acquire_lease(holder_died, exited_holder(), lease);

    const auto jobs = store.list_jobs();
    REQUIRE(jobs.size() == 5);
    std::vector<std::string> ids;
    for (const auto& job : jobs) ids.push_back(job.id);
    CHECK(ids == std::vector<std::string>{holder_died, running, never_ran, finished, partly_done});

    CHECK(jobs[0].name == "holder-died");
    CHECK(jobs[0].status == "pending");
    CHECK(jobs[1].status == "running");
    CHECK(jobs[2].status == "pending");
    CHECK(jobs[2].done == 0);
    CHECK(jobs[2].total == 2);  // the spec's tasks, before any record exists
    CHECK(jobs[3].name == "finished");
    CHECK(jobs[3].status == "failed");
    CHECK(jobs[3].done == 2);
    CHECK(jobs[3].total == 2);
    CHECK(jobs[4].status == "pending");
    CHECK(jobs[4].done == 2);  // succeeded and planned are final; started is not
    CHECK(jobs[4].total == 3);
    for (const auto& job : jobs) CHECK(job.updated_at >= job.created_at);
    // Every save moves updated_at on.
    const Timestamp before = jobs[4].updated_at;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    store.save_tasks(partly_done, Batch{{1, &half[1], half[1].history.size()}});
    CHECK(store.list_jobs()[4].updated_at > before);
}

TEST_CASE("SqliteStore keeps a job's spec out of the row every commit updates", "[store]") {
    // Every commit of a run updates the jobs row (its last change), and SQLite reads a whole row
    // to update it: with the spec in that row, each commit of a large job would cost as much as
    // reading its spec.
    const TempDb db;
    SqliteStore store(db.path());
    const auto id = store.create_job(photo_spec());
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open_v2(db.path().string().c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    std::vector<std::string> columns;
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw, "SELECT name FROM pragma_table_info('jobs')", -1, &statement, nullptr) == SQLITE_OK);
    while (sqlite3_step(statement) == SQLITE_ROW) {
        columns.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)));
    }
    sqlite3_finalize(statement);
    sqlite3_close_v2(raw);
    CHECK(std::find(columns.begin(), columns.end(), "updated_at") != columns.end());
    CHECK(std::find(columns.begin(), columns.end(), "spec") == columns.end());
    CHECK(store.load(id)->spec == photo_spec());
}
