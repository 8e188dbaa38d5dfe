// The embedded job store: one SQLite file in WAL mode, every write one committed transaction.
// A task is a row that is written whole once (what never changes), a few columns that change
// with its status, and history rows that are only ever appended. A job row also holds who runs
// the job (its lease) and whether it was asked to cancel.
#include "jobgraph/store.hpp"

#include "model/json_limits.hpp"
#include "store/lease_liveness.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <mutex>
#include <random>
#include <stdexcept>

namespace jobgraph {
namespace {

using nlohmann::json;

// Bumped whenever the tables change; a file with a higher version is refused, not guessed at.
constexpr int schema_version = 4;
// Marks the file as ours ("JOBG"), so that a foreign SQLite database is never written to.
constexpr std::int32_t application_id = 0x4A4F4247;
constexpr int busy_timeout_ms = 5000;
constexpr int max_id_attempts = 16;
// What a stored document adds around the values it holds (inputs, outputs, traces), which came
// in held to max_json_depth: a spec and a result 3 levels (the job, its task list, a task), a
// task record 1. A document nested deeper than that holds a value nested too deep.
constexpr std::size_t spec_levels = 3;
constexpr std::size_t record_levels = 1;
constexpr std::size_t result_levels = 3;

constexpr const char* create_schema_sql = R"sql(
CREATE TABLE jobs (
    id         TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL UNIQUE,  -- creation order; rowids are not stable across VACUUM
    name       TEXT NOT NULL,
    result     TEXT,                     -- JobResult as JSON, NULL while the job is unfinished
    created_at TEXT NOT NULL,            -- UTC, as format_timestamp writes it
    updated_at TEXT NOT NULL,            -- the last write of the job or its tasks
    lease_holder     TEXT,               -- LeaseHolder::id of the run holding the job, or NULL
    lease_host       TEXT,
    lease_pid        INTEGER,
    lease_expires_us INTEGER,            -- UTC microseconds since the epoch
    cancel_reason    TEXT                -- set by request_cancel, first request wins
);
-- Apart from the jobs row, which every commit of a run updates: SQLite rewrites a whole row on
-- update, and a large job's spec would be written again at every change of every task.
CREATE TABLE job_specs (
    job_id     TEXT PRIMARY KEY REFERENCES jobs(id),
    spec       TEXT NOT NULL             -- JobSpec as JSON
);
CREATE TABLE tasks (
    job_id     TEXT NOT NULL REFERENCES jobs(id),
    position   INTEGER NOT NULL,         -- creation order within the job
    id         TEXT NOT NULL,
    status     TEXT NOT NULL,
    identity   TEXT NOT NULL,            -- JSON: id, parentId, depth, service, command, input, dependsOn,
                                         --       and where not the default: timeout, retry, priority
    outcome    TEXT NOT NULL,            -- JSON: output, trace, children, attempts, startedAt, completedAt,
                                         --       nextAttemptAt while retrying
    PRIMARY KEY (job_id, position)
) WITHOUT ROWID;                         -- one b-tree, not a table and an index: fewer pages per commit
CREATE TABLE task_history (
    job_id     TEXT NOT NULL,
    position   INTEGER NOT NULL,
    seq        INTEGER NOT NULL,         -- the entry's place in the task's history
    status     TEXT NOT NULL,
    at         TEXT NOT NULL,            -- UTC, as format_timestamp writes it
    reason     TEXT NOT NULL,
    PRIMARY KEY (job_id, position, seq),
    FOREIGN KEY (job_id, position) REFERENCES tasks(job_id, position)
) WITHOUT ROWID;
)sql";

struct DatabaseCloser {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using Database = std::unique_ptr<sqlite3, DatabaseCloser>;

struct StatementFinalizer {
    void operator()(sqlite3_stmt* statement) const noexcept { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// Resets a (cached) statement when a use of it ends, also on an exception: a statement left
// mid-step would keep its read transaction, and with it an old snapshot, open.
class StatementUse {
public:
    explicit StatementUse(const Statement& statement) : statement_(statement.get()) {}
    ~StatementUse() {
        sqlite3_reset(statement_);
        sqlite3_clear_bindings(statement_);
    }
    StatementUse(const StatementUse&) = delete;
    StatementUse& operator=(const StatementUse&) = delete;

    sqlite3_stmt* get() const noexcept { return statement_; }

private:
    sqlite3_stmt* statement_;
};

std::string column_text(sqlite3_stmt* statement, int column) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
    if (text == nullptr) return {};
    return std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(statement, column)));
}

// JSON text of a value; strings that are not valid UTF-8 cannot be written, and are reported
// rather than silently replaced, so a record never comes back different from how it was saved.
// The description is built only on failure: this runs once per saved task.
template <typename T, typename Describe>
std::string encode(const T& value, std::string_view file, Describe describe) {
    try {
        return json(value).dump();
    } catch (const json::exception& e) {
        throw StoreError(fmt::format("SqliteStore: cannot write {} to {}: {}", describe(), file, e.what()));
    }
}

// The parts of a record as the tasks table keeps them; together with the history rows they
// make the record's JSON form again.
json identity_of(const TaskRecord& task) {
    json identity{{"id", task.id},
                  {"parentId", task.parent_id ? json(*task.parent_id) : json(nullptr)},
                  {"depth", task.depth},
                  {"service", task.service},
                  {"command", task.command},
                  {"input", task.input},
                  {"dependsOn", task.depends_on}};
    // What the task runs under, written only where it differs from the defaults (as to_json does).
    if (task.timeout.count() != 0) identity["timeout"] = task.timeout.count();
    if (task.retry != RetryPolicy{}) identity["retry"] = task.retry;
    if (task.priority != 0) identity["priority"] = task.priority;
    return identity;
}

json outcome_of(const TaskRecord& task) {
    const auto timestamp = [](const std::optional<Timestamp>& at) {
        return at ? json(format_timestamp(*at)) : json(nullptr);
    };
    json outcome{{"output", task.output},
                 {"trace", task.trace},
                 {"children", task.children},
                 {"attempts", task.attempts},
                 {"startedAt", timestamp(task.started_at)},
                 {"completedAt", timestamp(task.completed_at)}};
    if (task.next_attempt_at) outcome["nextAttemptAt"] = format_timestamp(*task.next_attempt_at);
    return outcome;
}

// A stored document, parsed without recursing.
json parse_stored(std::string_view text, std::size_t own_levels) {
    try {
        return detail::parse_json_within(text, detail::max_json_depth + own_levels);
    } catch (const detail::JsonTooDeep&) {
        throw std::runtime_error(fmt::format("a value nests deeper than {} levels", detail::max_json_depth));
    }
}

std::int64_t microseconds_of(Timestamp at) {
    return at.time_since_epoch().count();
}

Timestamp timestamp_of(std::int64_t microseconds) {
    return Timestamp(std::chrono::microseconds(microseconds));
}

// The lease a job row holds, if any.
struct StoredLease {
    std::string holder;
    std::string host;
    std::int64_t pid = 0;
    std::int64_t expires_us = 0;

    // A lease keeps the job only while it is renewed and its holder can still be running.
    bool live(std::int64_t now_us) const { return expires_us >= now_us && !detail::holder_has_exited(host, pid); }
};

std::optional<StoredLease> lease_in(sqlite3_stmt* row, int first_column) {
    if (sqlite3_column_type(row, first_column) == SQLITE_NULL) return std::nullopt;
    return StoredLease{column_text(row, first_column), column_text(row, first_column + 1),
                       sqlite3_column_int64(row, first_column + 2), sqlite3_column_int64(row, first_column + 3)};
}

std::string random_job_id() {
    std::random_device device;
    const std::uint64_t bits = (std::uint64_t{device()} << 32) | device();
    return fmt::format("job-{:012x}", bits & 0xFFFF'FFFF'FFFFull);
}

}  // namespace

class SqliteStore::Impl {
public:
    explicit Impl(const std::filesystem::path& file);

    std::string create_job(const JobSpec& spec);
    void save_tasks(std::string_view job_id, std::span<const TaskWrite> tasks);
    void save_result(std::string_view job_id, const JobResult& result);
    void clear_result(std::string_view job_id);
    std::optional<StoredJob> load(std::string_view job_id);
    std::vector<std::string> job_ids();
    std::vector<JobSummary> list_jobs();
    void acquire_lease(std::string_view job_id, const LeaseHolder& holder, std::chrono::milliseconds duration);
    LeaseRenewal renew_lease(std::string_view job_id, const LeaseHolder& holder, std::chrono::milliseconds duration);
    void release_lease(std::string_view job_id, const LeaseHolder& holder);
    void request_cancel(std::string_view job_id, std::string_view reason);

private:
    // Rolls back unless committed, so that any error (SQLite's or a JSON one) leaves no trace.
    class Transaction {
    public:
        Transaction(Impl& store, const char* begin_sql, const char* operation) : store_(store) {
            store_.exec(begin_sql, operation);
        }
        ~Transaction() {
            if (!committed_ && sqlite3_get_autocommit(store_.db_.get()) == 0) {
                sqlite3_exec(store_.db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
            }
        }
        Transaction(const Transaction&) = delete;
        Transaction& operator=(const Transaction&) = delete;

        void commit(const char* operation) {
            store_.exec("COMMIT", operation);
            committed_ = true;
        }

    private:
        Impl& store_;
        bool committed_ = false;
    };

    [[noreturn]] void fail(std::string_view operation) const;
    void check(int rc, std::string_view operation) const {
        if (rc != SQLITE_OK) fail(operation);
    }
    void exec(const char* sql, std::string_view operation);
    Statement prepare(const char* sql, std::string_view operation);
    /// True when the statement produced a row, false when it is done.
    bool step(sqlite3_stmt* statement, std::string_view operation);
    void bind_text(sqlite3_stmt* statement, int index, std::string_view text, std::string_view operation);
    void bind_int64(sqlite3_stmt* statement, int index, std::int64_t value, std::string_view operation);
    std::int64_t query_int(const char* sql, std::string_view operation);

    void open_schema();
    void migrate_from_version_1();
    void migrate_from_version_2();
    void migrate_from_version_3();
    // Writes one task: whole when @p saved_history is 0 (a new task), else its changing columns
    // and the history entries past @p saved_history.
    void write_task(std::string_view job_id, std::int64_t position, const TaskRecord& task, std::size_t saved_history,
                    const std::string* identity_text, const std::string& outcome_text, std::string_view operation);
    bool job_exists(std::string_view job_id, std::string_view operation);
    // Sets the job's updated_at to now; throws StoreError for an unknown job.
    void touch_job(std::string_view job_id, std::string_view operation);
    void set_result(std::string_view job_id, const std::optional<JobResult>& result, const char* operation);

    std::string file_;
    std::mutex mutex_;
    Database db_;
    // Declared after db_, so they are finalized before the connection closes.
    Statement job_exists_;
    Statement insert_job_;
    Statement insert_task_;
    Statement update_task_;
    Statement insert_history_;
    Statement update_result_;
    Statement insert_spec_;
    Statement select_job_;
    Statement select_tasks_;
    Statement select_history_;
    Statement select_ids_;
    Statement touch_job_;
    Statement select_lease_;
    Statement update_lease_;
    Statement renew_lease_;
    Statement release_lease_;
    Statement request_cancel_;
    Statement select_cancel_;
    Statement select_summaries_;
};

SqliteStore::Impl::Impl(const std::filesystem::path& file) : file_(file.string()) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(file_.c_str(), &raw,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
    db_.reset(raw);  // owned even when opening failed, so the handle is released either way
    if (rc != SQLITE_OK) {
        if (!db_) throw StoreError(fmt::format("SqliteStore: cannot open {}: out of memory", file_));
        fail("open");
    }
    sqlite3_extended_result_codes(db_.get(), 1);
    // Several stores and processes may share the file: wait for a writer rather than fail at once.
    check(sqlite3_busy_timeout(db_.get(), busy_timeout_ms), "set busy timeout");

    // A file that is not a database is only detected here, on the first read of its header.
    {
        const Statement statement = prepare("PRAGMA journal_mode=WAL", "open");
        const StatementUse use(statement);
        const std::string mode = step(use.get(), "open") ? column_text(use.get(), 0) : std::string{};
        if (mode != "wal" && mode != "memory") {
            throw StoreError(fmt::format("SqliteStore: {} cannot use WAL mode (journal mode is \"{}\")", file_, mode));
        }
    }
    // In WAL mode synchronous=NORMAL still makes every commit atomic, and durable across a crash
    // of the process; only an OS crash or power loss may lose the last commits (never corrupt the
    // file). FULL would add an fsync per commit, i.e. per finished task.
    exec("PRAGMA synchronous=NORMAL", "set synchronous");
    exec("PRAGMA foreign_keys=ON", "enable foreign keys");
    open_schema();

    job_exists_ = prepare("SELECT 1 FROM jobs WHERE id = ?1", "prepare");
    insert_job_ = prepare(
        "INSERT INTO jobs (id, seq, name, result, created_at, updated_at) "
        "VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs), ?2, NULL, ?3, ?3)",
        "prepare");
    insert_spec_ = prepare("INSERT INTO job_specs (job_id, spec) VALUES (?1, ?2)", "prepare");
    insert_task_ =
        prepare("INSERT INTO tasks (job_id, position, id, status, identity, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                "prepare");
    update_task_ = prepare("UPDATE tasks SET status = ?3, outcome = ?4 WHERE job_id = ?1 AND position = ?2", "prepare");
    insert_history_ =
        prepare("INSERT INTO task_history (job_id, position, seq, status, at, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                "prepare");
    update_result_ = prepare("UPDATE jobs SET result = ?2, updated_at = ?3 WHERE id = ?1", "prepare");
    select_job_ = prepare(
        "SELECT s.spec, j.result FROM jobs j JOIN job_specs s ON s.job_id = j.id WHERE j.id = ?1", "prepare");
    select_tasks_ = prepare(
        "SELECT position, id, identity, status, outcome FROM tasks WHERE job_id = ?1 ORDER BY position", "prepare");
    select_history_ = prepare(
        "SELECT position, status, at, reason FROM task_history WHERE job_id = ?1 ORDER BY position, seq", "prepare");
    select_ids_ = prepare("SELECT id FROM jobs ORDER BY seq", "prepare");
    touch_job_ = prepare("UPDATE jobs SET updated_at = ?2 WHERE id = ?1", "prepare");
    select_lease_ =
        prepare("SELECT lease_holder, lease_host, lease_pid, lease_expires_us FROM jobs WHERE id = ?1", "prepare");
    update_lease_ = prepare(
        "UPDATE jobs SET lease_holder = ?2, lease_host = ?3, lease_pid = ?4, lease_expires_us = ?5 WHERE id = ?1",
        "prepare");
    renew_lease_ = prepare("UPDATE jobs SET lease_expires_us = ?3 WHERE id = ?1 AND lease_holder = ?2", "prepare");
    release_lease_ = prepare(
        "UPDATE jobs SET lease_holder = NULL, lease_host = NULL, lease_pid = NULL, lease_expires_us = NULL "
        "WHERE id = ?1 AND lease_holder = ?2",
        "prepare");
    request_cancel_ = prepare("UPDATE jobs SET cancel_reason = COALESCE(cancel_reason, ?2) WHERE id = ?1", "prepare");
    select_cancel_ = prepare("SELECT cancel_reason FROM jobs WHERE id = ?1", "prepare");
    // The job's status comes from its result without decoding the whole result; a job that
    // never ran has no task rows yet, and counts its spec's tasks.
    select_summaries_ = prepare(
        "SELECT j.id, j.name, json_extract(j.result, '$.status'), j.created_at, j.updated_at, "
        "       j.lease_host, j.lease_pid, j.lease_expires_us, "
        "       COALESCE(t.total, json_array_length(s.spec, '$.tasks'), 0), COALESCE(t.done, 0) "
        "FROM jobs j JOIN job_specs s ON s.job_id = j.id LEFT JOIN ("
        "    SELECT job_id, COUNT(*) AS total, "
        "           SUM(status IN ('planned', 'succeeded', 'failed', 'aborted')) AS done "
        "    FROM tasks GROUP BY job_id) t ON t.job_id = j.id "
        "ORDER BY j.seq DESC",
        "prepare");
}

void SqliteStore::Impl::open_schema() {
    // IMMEDIATE: two processes opening a new file at once must not both create the tables.
    Transaction transaction(*this, "BEGIN IMMEDIATE", "open");
    const auto version = query_int("PRAGMA user_version", "read schema version");
    const auto app_id = query_int("PRAGMA application_id", "read application id");
    if (version == 0 && app_id == 0) {
        if (query_int("SELECT COUNT(*) FROM sqlite_master", "read schema") != 0) {
            throw StoreError(fmt::format("SqliteStore: {} is a SQLite database of another application", file_));
        }
        exec(create_schema_sql, "create tables");
        exec(fmt::format("PRAGMA application_id={}", application_id).c_str(), "set application id");
        exec(fmt::format("PRAGMA user_version={}", schema_version).c_str(), "set schema version");
    } else if (app_id != application_id) {
        throw StoreError(fmt::format("SqliteStore: {} is a SQLite database of another application", file_));
    } else if (version == 1) {
        migrate_from_version_1();
        migrate_from_version_2();
        migrate_from_version_3();
    } else if (version == 2) {
        migrate_from_version_2();
        migrate_from_version_3();
    } else if (version == 3) {
        migrate_from_version_3();
    } else if (version != schema_version) {
        throw StoreError(fmt::format("SqliteStore: {} has schema version {}, this build reads version {}", file_,
                                     version, schema_version));
    }
    transaction.commit("open");
}

// Version 1 kept each task as one JSON record, rewritten whole at every change. Called inside
// open_schema's transaction: the file is either wholly migrated or left as it was.
void SqliteStore::Impl::migrate_from_version_1() {
    exec("ALTER TABLE tasks RENAME TO tasks_version_1", "migrate schema");
    const std::string create = create_schema_sql;
    exec(create.substr(create.find("CREATE TABLE tasks")).c_str(), "migrate schema");
    insert_task_ =
        prepare("INSERT INTO tasks (job_id, position, id, status, identity, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                "migrate schema");
    insert_history_ =
        prepare("INSERT INTO task_history (job_id, position, seq, status, at, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                "migrate schema");
    {
        const Statement select = prepare("SELECT job_id, position, record FROM tasks_version_1", "migrate schema");
        const StatementUse use(select);
        while (step(use.get(), "migrate schema")) {
            const std::string job_id = column_text(use.get(), 0);
            const std::int64_t position = sqlite3_column_int64(use.get(), 1);
            TaskRecord task;
            try {
                task = parse_stored(column_text(use.get(), 2), record_levels).get<TaskRecord>();
            } catch (const std::exception& e) {
                throw StoreError(fmt::format("SqliteStore: cannot migrate {}: task {} of job \"{}\" is unreadable: {}",
                                             file_, position, job_id, e.what()));
            }
            const auto describe = [&] { return fmt::format("task \"{}\" of job \"{}\"", task.id, job_id); };
            const std::string identity = encode(identity_of(task), file_, describe);
            write_task(job_id, position, task, 0, &identity, encode(outcome_of(task), file_, describe),
                       "migrate schema");
        }
    }
    exec("DROP TABLE tasks_version_1", "migrate schema");
}

// Version 2 had no updated_at, lease or cancel request; its tasks table is the same. A job's
// last change is taken to be its creation. Called inside open_schema's transaction.
void SqliteStore::Impl::migrate_from_version_2() {
    exec("ALTER TABLE jobs ADD COLUMN updated_at TEXT NOT NULL DEFAULT ''", "migrate schema");
    exec("UPDATE jobs SET updated_at = created_at", "migrate schema");
    exec("ALTER TABLE jobs ADD COLUMN lease_holder TEXT", "migrate schema");
    exec("ALTER TABLE jobs ADD COLUMN lease_host TEXT", "migrate schema");
    exec("ALTER TABLE jobs ADD COLUMN lease_pid INTEGER", "migrate schema");
    exec("ALTER TABLE jobs ADD COLUMN lease_expires_us INTEGER", "migrate schema");
    exec("ALTER TABLE jobs ADD COLUMN cancel_reason TEXT", "migrate schema");
}

// Version 3 kept the spec in the jobs row. Called inside open_schema's transaction.
void SqliteStore::Impl::migrate_from_version_3() {
    const std::string create = create_schema_sql;
    const auto begin = create.find("CREATE TABLE job_specs");
    exec(create.substr(begin, create.find("CREATE TABLE tasks") - begin).c_str(), "migrate schema");
    exec("INSERT INTO job_specs (job_id, spec) SELECT id, spec FROM jobs", "migrate schema");
    exec("ALTER TABLE jobs DROP COLUMN spec", "migrate schema");
    exec(fmt::format("PRAGMA user_version={}", schema_version).c_str(), "set schema version");
}

void SqliteStore::Impl::fail(std::string_view operation) const {
    throw StoreError(fmt::format("SqliteStore: {} failed on {}: {}", operation, file_, sqlite3_errmsg(db_.get())));
}

void SqliteStore::Impl::exec(const char* sql, std::string_view operation) {
    check(sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr), operation);
}

Statement SqliteStore::Impl::prepare(const char* sql, std::string_view operation) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr);
    Statement statement(raw);
    check(rc, operation);
    return statement;
}

bool SqliteStore::Impl::step(sqlite3_stmt* statement, std::string_view operation) {
    const int rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(operation);
}

void SqliteStore::Impl::bind_text(sqlite3_stmt* statement, int index, std::string_view text,
                                  std::string_view operation) {
    // A null pointer would bind SQL NULL, not an empty string.
    const char* data = text.data() != nullptr ? text.data() : "";
    check(sqlite3_bind_text64(statement, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8), operation);
}

void SqliteStore::Impl::bind_int64(sqlite3_stmt* statement, int index, std::int64_t value, std::string_view operation) {
    check(sqlite3_bind_int64(statement, index, value), operation);
}

std::int64_t SqliteStore::Impl::query_int(const char* sql, std::string_view operation) {
    const Statement statement = prepare(sql, operation);
    const StatementUse use(statement);
    if (!step(use.get(), operation)) {
        throw StoreError(fmt::format("SqliteStore: {} failed on {}: no row", operation, file_));
    }
    return sqlite3_column_int64(use.get(), 0);
}

void SqliteStore::Impl::touch_job(std::string_view job_id, std::string_view operation) {
    {
        const StatementUse use(touch_job_);
        bind_text(use.get(), 1, job_id, operation);
        bind_text(use.get(), 2, format_timestamp(now_utc()), operation);
        step(use.get(), operation);
    }
    if (sqlite3_changes(db_.get()) == 0) {
        throw StoreError(fmt::format("SqliteStore: {} failed on {}: unknown job \"{}\"", operation, file_, job_id));
    }
}

bool SqliteStore::Impl::job_exists(std::string_view job_id, std::string_view operation) {
    const StatementUse use(job_exists_);
    bind_text(use.get(), 1, job_id, operation);
    return step(use.get(), operation);
}

std::string SqliteStore::Impl::create_job(const JobSpec& spec) {
    // A spec built in C++ has met no parser's limit; writing it out recurses as deep as it nests.
    for (std::size_t i = 0; i < spec.tasks.size(); ++i) {
        if (detail::depth_exceeds(spec.tasks[i].input)) {
            throw StoreError(
                fmt::format("SqliteStore: cannot write the spec of job \"{}\" to {}: tasks[{}]: \"input\" nests deeper "
                            "than {} levels",
                            spec.name, file_, i, detail::max_json_depth));
        }
    }
    const std::string spec_text = encode(spec, file_, [&] { return fmt::format("the spec of job \"{}\"", spec.name); });
    const std::lock_guard lock(mutex_);
    Transaction transaction(*this, "BEGIN IMMEDIATE", "create job");
    // Random rather than sequential, so that ids stay unique across files and never hint at a
    // count; 48 bits make a collision rare, and the write lock makes the check-then-insert safe.
    std::string id;
    for (int attempt = 0; id.empty(); ++attempt) {
        if (attempt == max_id_attempts) {
            throw StoreError(fmt::format("SqliteStore: create job failed on {}: no free job id", file_));
        }
        std::string candidate = random_job_id();
        if (!job_exists(candidate, "create job")) id = std::move(candidate);
    }
    {
        const StatementUse use(insert_job_);
        bind_text(use.get(), 1, id, "create job");
        bind_text(use.get(), 2, spec.name, "create job");
        bind_text(use.get(), 3, format_timestamp(now_utc()), "create job");
        step(use.get(), "create job");
    }
    {
        const StatementUse use(insert_spec_);
        bind_text(use.get(), 1, id, "create job");
        bind_text(use.get(), 2, spec_text, "create job");
        step(use.get(), "create job");
    }
    transaction.commit("create job");
    return id;
}

void SqliteStore::Impl::save_tasks(std::string_view job_id, std::span<const TaskWrite> tasks) {
    // Encode before taking the lock: JSON work need not hold up other writers.
    struct Row {
        std::int64_t position;
        const TaskWrite* write;
        std::optional<std::string> identity;  // new tasks only
        std::string outcome;
    };
    std::vector<Row> rows;
    rows.reserve(tasks.size());
    for (const TaskWrite& write : tasks) {
        if (write.record == nullptr) throw std::invalid_argument("SqliteStore::save_tasks: null task record");
        if (write.position > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())) {
            throw std::invalid_argument(
                fmt::format("SqliteStore::save_tasks: position {} is too large", write.position));
        }
        if (write.saved_history > write.record->history.size()) {
            throw std::invalid_argument(
                fmt::format("SqliteStore::save_tasks: task {} has {} history entries, fewer than the {} already saved",
                            write.record->id, write.record->history.size(), write.saved_history));
        }
        const TaskRecord& task = *write.record;
        const auto describe = [&] { return fmt::format("task \"{}\" of job \"{}\"", task.id, job_id); };
        Row& row = rows.emplace_back(Row{static_cast<std::int64_t>(write.position), &write, std::nullopt, {}});
        if (write.saved_history == 0) row.identity = encode(identity_of(task), file_, describe);
        row.outcome = encode(outcome_of(task), file_, describe);
    }

    const std::lock_guard lock(mutex_);
    Transaction transaction(*this, "BEGIN IMMEDIATE", "save tasks");
    touch_job(job_id, "save tasks");
    for (const Row& row : rows) {
        write_task(job_id, row.position, *row.write->record, row.write->saved_history,
                   row.identity ? &*row.identity : nullptr, row.outcome, "save tasks");
    }
    transaction.commit("save tasks");
}

void SqliteStore::Impl::write_task(std::string_view job_id, std::int64_t position, const TaskRecord& task,
                                   std::size_t saved_history, const std::string* identity_text,
                                   const std::string& outcome_text, std::string_view operation) {
    if (identity_text) {
        const StatementUse use(insert_task_);
        bind_text(use.get(), 1, job_id, operation);
        bind_int64(use.get(), 2, position, operation);
        bind_text(use.get(), 3, task.id, operation);
        bind_text(use.get(), 4, to_string(task.status), operation);
        bind_text(use.get(), 5, *identity_text, operation);
        bind_text(use.get(), 6, outcome_text, operation);
        step(use.get(), operation);
    } else {
        const StatementUse use(update_task_);
        bind_text(use.get(), 1, job_id, operation);
        bind_int64(use.get(), 2, position, operation);
        bind_text(use.get(), 3, to_string(task.status), operation);
        bind_text(use.get(), 4, outcome_text, operation);
        step(use.get(), operation);
        if (sqlite3_changes(db_.get()) == 0) {
            throw StoreError(fmt::format("SqliteStore: {} failed on {}: task {} of job \"{}\" was never saved",
                                         operation, file_, task.id, job_id));
        }
    }
    for (std::size_t seq = saved_history; seq < task.history.size(); ++seq) {
        const HistoryEntry& entry = task.history[seq];
        const StatementUse use(insert_history_);
        bind_text(use.get(), 1, job_id, operation);
        bind_int64(use.get(), 2, position, operation);
        bind_int64(use.get(), 3, static_cast<std::int64_t>(seq), operation);
        bind_text(use.get(), 4, to_string(entry.status), operation);
        bind_text(use.get(), 5, format_timestamp(entry.at), operation);
        bind_text(use.get(), 6, entry.reason, operation);
        step(use.get(), operation);
    }
}

void SqliteStore::Impl::set_result(std::string_view job_id, const std::optional<JobResult>& result,
                                   const char* operation) {
    const std::string text =
        result ? encode(*result, file_, [&] { return fmt::format("the result of job \"{}\"", job_id); })
               : std::string{};
    const std::lock_guard lock(mutex_);
    Transaction transaction(*this, "BEGIN IMMEDIATE", operation);
    {
        const StatementUse use(update_result_);
        bind_text(use.get(), 1, job_id, operation);
        if (result) bind_text(use.get(), 2, text, operation);  // left unbound, ?2 is NULL
        bind_text(use.get(), 3, format_timestamp(now_utc()), operation);
        step(use.get(), operation);
    }
    if (sqlite3_changes(db_.get()) == 0) {
        throw StoreError(fmt::format("SqliteStore: {} failed on {}: unknown job \"{}\"", operation, file_, job_id));
    }
    transaction.commit(operation);
}

void SqliteStore::Impl::save_result(std::string_view job_id, const JobResult& result) {
    set_result(job_id, result, "save result");
}

void SqliteStore::Impl::clear_result(std::string_view job_id) {
    set_result(job_id, std::nullopt, "clear result");
}

std::optional<StoredJob> SqliteStore::Impl::load(std::string_view job_id) {
    StoredJob job;
    job.id = std::string(job_id);
    std::string spec_text;
    std::optional<std::string> result_text;
    struct TaskRow {
        std::int64_t position;
        std::string id;
        std::string identity;
        std::string status;
        std::string outcome;
        json history = json::array();
    };
    std::vector<TaskRow> rows;
    struct HistoryRow {
        std::int64_t position;
        std::string status;
        std::string at;
        std::string reason;
    };
    std::vector<HistoryRow> history;
    {
        const std::lock_guard lock(mutex_);
        // One read transaction, so the job and its tasks come from the same commit.
        Transaction transaction(*this, "BEGIN", "load job");
        {
            const StatementUse use(select_job_);
            bind_text(use.get(), 1, job_id, "load job");
            if (!step(use.get(), "load job")) return std::nullopt;
            spec_text = column_text(use.get(), 0);
            if (sqlite3_column_type(use.get(), 1) != SQLITE_NULL) result_text = column_text(use.get(), 1);
        }
        {
            const StatementUse use(select_tasks_);
            bind_text(use.get(), 1, job_id, "load job");
            while (step(use.get(), "load job")) {
                rows.push_back(TaskRow{sqlite3_column_int64(use.get(), 0), column_text(use.get(), 1),
                                       column_text(use.get(), 2), column_text(use.get(), 3),
                                       column_text(use.get(), 4)});
            }
        }
        {
            const StatementUse use(select_history_);
            bind_text(use.get(), 1, job_id, "load job");
            while (step(use.get(), "load job")) {
                history.push_back(HistoryRow{sqlite3_column_int64(use.get(), 0), column_text(use.get(), 1),
                                             column_text(use.get(), 2), column_text(use.get(), 3)});
            }
        }
        transaction.commit("load job");
    }

    // Decoding happens outside the lock; a record that does not decode means a damaged store.
    enum class Part { spec, task, result } part = Part::spec;
    std::size_t task = 0;
    try {
        job.spec = parse_stored(spec_text, spec_levels).get<JobSpec>();
        part = Part::task;
        for (HistoryRow& entry : history) {
            // Both come ordered by position.
            const auto row =
                std::lower_bound(rows.begin(), rows.end(), entry.position,
                                 [](const TaskRow& r, std::int64_t position) { return r.position < position; });
            if (row == rows.end() || row->position != entry.position) {
                throw std::invalid_argument(fmt::format("history of unknown task position {}", entry.position));
            }
            json item{{"status", std::move(entry.status)}, {"at", std::move(entry.at)}};
            if (!entry.reason.empty()) item["reason"] = std::move(entry.reason);
            row->history.push_back(std::move(item));
        }
        job.tasks.reserve(rows.size());
        for (; task < rows.size(); ++task) {
            TaskRow& row = rows[task];
            json record = parse_stored(row.identity, record_levels);
            json outcome = parse_stored(row.outcome, record_levels);
            if (!record.is_object() || !outcome.is_object()) throw std::invalid_argument("not a JSON object");
            // A saved task has at least its "pending" entry; the store tells a task it has saved
            // from a new one by its saved history, so one without would be inserted a second time.
            if (row.history.empty()) throw std::invalid_argument("it has no history entries");
            record.update(outcome);
            record["status"] = std::move(row.status);
            record["history"] = std::move(row.history);
            job.tasks.push_back(record.get<TaskRecord>());
        }
        part = Part::result;
        if (result_text) job.result = parse_stored(*result_text, result_levels).get<JobResult>();
    } catch (const std::exception& e) {
        const std::string what =
            part == Part::spec ? std::string("spec")
            : part == Part::task
                ? fmt::format("task record \"{}\"", task < rows.size() ? rows[task].id : std::string("?"))
                : std::string("result");
        throw StoreError(
            fmt::format("SqliteStore: job \"{}\" in {} has an unreadable {}: {}", job_id, file_, what, e.what()));
    }
    return job;
}

std::vector<std::string> SqliteStore::Impl::job_ids() {
    const std::lock_guard lock(mutex_);
    std::vector<std::string> ids;
    const StatementUse use(select_ids_);
    while (step(use.get(), "list jobs")) ids.push_back(column_text(use.get(), 0));
    return ids;
}

std::vector<JobSummary> SqliteStore::Impl::list_jobs() {
    std::vector<JobSummary> jobs;
    const std::int64_t now = microseconds_of(now_utc());
    const std::lock_guard lock(mutex_);
    const StatementUse use(select_summaries_);
    while (step(use.get(), "list jobs")) {
        sqlite3_stmt* row = use.get();
        JobSummary job;
        job.id = column_text(row, 0);
        job.name = column_text(row, 1);
        // Lease columns 5-7: host, pid, expiry (the holder's id is not needed here).
        const bool running =
            sqlite3_column_type(row, 7) != SQLITE_NULL &&
            StoredLease{{}, column_text(row, 5), sqlite3_column_int64(row, 6), sqlite3_column_int64(row, 7)}.live(now);
        if (running) {
            job.status = "running";
        } else if (sqlite3_column_type(row, 2) != SQLITE_NULL) {
            job.status = column_text(row, 2);
        } else {
            job.status = "pending";
        }
        const auto created = parse_timestamp(column_text(row, 3));
        const auto updated = parse_timestamp(column_text(row, 4));
        if (!created || !updated) {
            throw StoreError(fmt::format("SqliteStore: job \"{}\" in {} has an unreadable time", job.id, file_));
        }
        job.created_at = *created;
        job.updated_at = *updated;
        job.total = static_cast<std::size_t>(std::max<std::int64_t>(0, sqlite3_column_int64(row, 8)));
        job.done = static_cast<std::size_t>(std::max<std::int64_t>(0, sqlite3_column_int64(row, 9)));
        jobs.push_back(std::move(job));
    }
    return jobs;
}

void SqliteStore::Impl::acquire_lease(std::string_view job_id, const LeaseHolder& holder,
                                      std::chrono::milliseconds duration) {
    constexpr std::string_view operation = "acquire lease";
    const std::lock_guard lock(mutex_);
    // IMMEDIATE: the check and the take are one step for every process sharing the file.
    Transaction transaction(*this, "BEGIN IMMEDIATE", "acquire lease");
    const Timestamp now = now_utc();
    std::optional<StoredLease> lease;
    {
        const StatementUse use(select_lease_);
        bind_text(use.get(), 1, job_id, operation);
        if (!step(use.get(), operation)) {
            throw StoreError(fmt::format("SqliteStore: {} failed on {}: unknown job \"{}\"", operation, file_, job_id));
        }
        lease = lease_in(use.get(), 0);
    }
    if (lease && lease->holder != holder.id && lease->live(microseconds_of(now))) {
        throw JobBusyError(fmt::format("Job {} is being run by another process (pid {} on host {}, lease until {})",
                                       job_id, lease->pid, lease->host,
                                       format_timestamp(timestamp_of(lease->expires_us))));
    }
    {
        const StatementUse use(update_lease_);
        bind_text(use.get(), 1, job_id, operation);
        bind_text(use.get(), 2, holder.id, operation);
        bind_text(use.get(), 3, holder.host, operation);
        bind_int64(use.get(), 4, holder.pid, operation);
        bind_int64(use.get(), 5, microseconds_of(now + duration), operation);
        step(use.get(), operation);
    }
    transaction.commit("acquire lease");
}

LeaseRenewal SqliteStore::Impl::renew_lease(std::string_view job_id, const LeaseHolder& holder,
                                            std::chrono::milliseconds duration) {
    constexpr std::string_view operation = "renew lease";
    LeaseRenewal renewal;
    const std::lock_guard lock(mutex_);
    Transaction transaction(*this, "BEGIN IMMEDIATE", "renew lease");
    {
        const StatementUse use(select_cancel_);
        bind_text(use.get(), 1, job_id, operation);
        if (!step(use.get(), operation)) {
            throw StoreError(fmt::format("SqliteStore: {} failed on {}: unknown job \"{}\"", operation, file_, job_id));
        }
        if (sqlite3_column_type(use.get(), 0) != SQLITE_NULL) renewal.cancel_reason = column_text(use.get(), 0);
    }
    {
        const StatementUse use(renew_lease_);
        bind_text(use.get(), 1, job_id, operation);
        bind_text(use.get(), 2, holder.id, operation);
        bind_int64(use.get(), 3, microseconds_of(now_utc() + duration), operation);
        step(use.get(), operation);
    }
    renewal.held = sqlite3_changes(db_.get()) > 0;
    transaction.commit("renew lease");
    return renewal;
}

void SqliteStore::Impl::release_lease(std::string_view job_id, const LeaseHolder& holder) {
    constexpr std::string_view operation = "release lease";
    const std::lock_guard lock(mutex_);
    const StatementUse use(release_lease_);
    bind_text(use.get(), 1, job_id, operation);
    bind_text(use.get(), 2, holder.id, operation);
    step(use.get(), operation);
}

void SqliteStore::Impl::request_cancel(std::string_view job_id, std::string_view reason) {
    constexpr std::string_view operation = "request cancel";
    const std::lock_guard lock(mutex_);
    {
        const StatementUse use(request_cancel_);
        bind_text(use.get(), 1, job_id, operation);
        bind_text(use.get(), 2, reason, operation);
        step(use.get(), operation);
    }
    if (sqlite3_changes(db_.get()) == 0) {
        throw StoreError(fmt::format("SqliteStore: {} failed on {}: unknown job \"{}\"", operation, file_, job_id));
    }
}

SqliteStore::SqliteStore(const std::filesystem::path& file) : impl_(std::make_unique<Impl>(file)) {}
SqliteStore::~SqliteStore() = default;

std::string SqliteStore::create_job(const JobSpec& spec) {
    return impl_->create_job(spec);
}

void SqliteStore::save_tasks(std::string_view job_id, std::span<const TaskWrite> tasks) {
    impl_->save_tasks(job_id, tasks);
}

void SqliteStore::save_result(std::string_view job_id, const JobResult& result) {
    impl_->save_result(job_id, result);
}

void SqliteStore::clear_result(std::string_view job_id) {
    impl_->clear_result(job_id);
}

std::optional<StoredJob> SqliteStore::load(std::string_view job_id) const {
    return impl_->load(job_id);
}

std::vector<std::string> SqliteStore::job_ids() const {
    return impl_->job_ids();
}

std::vector<JobSummary> SqliteStore::list_jobs() const {
    return impl_->list_jobs();
}

void SqliteStore::acquire_lease(std::string_view job_id, const LeaseHolder& holder,
                                std::chrono::milliseconds duration) {
    impl_->acquire_lease(job_id, holder, duration);
}

LeaseRenewal SqliteStore::renew_lease(std::string_view job_id, const LeaseHolder& holder,
                                      std::chrono::milliseconds duration) {
    return impl_->renew_lease(job_id, holder, duration);
}

void SqliteStore::release_lease(std::string_view job_id, const LeaseHolder& holder) {
    impl_->release_lease(job_id, holder);
}

void SqliteStore::request_cancel(std::string_view job_id, std::string_view reason) {
    impl_->request_cancel(job_id, reason);
}

}  // namespace jobgraph
