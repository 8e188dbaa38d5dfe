// The embedded job store: one SQLite file in WAL mode, every write one committed transaction.
// A task is a row that is written whole once (what never changes), a few columns that change
// with its status, and history rows that are only ever appended.
#include "jobgraph/store.hpp"

#include "model/json_limits.hpp"

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
constexpr int schema_version = 2;
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
    spec       TEXT NOT NULL,            -- JobSpec as JSON
    result     TEXT,                     -- JobResult as JSON, NULL while the job is unfinished
    created_at TEXT NOT NULL             -- UTC, as format_timestamp writes it
);
CREATE TABLE tasks (
    job_id     TEXT NOT NULL REFERENCES jobs(id),
    position   INTEGER NOT NULL,         -- creation order within the job
    id         TEXT NOT NULL,
    status     TEXT NOT NULL,
    identity   TEXT NOT NULL,            -- JSON: id, parentId, depth, service, command, input, dependsOn
    outcome    TEXT NOT NULL,            -- JSON: output, trace, children, attempts, startedAt, completedAt
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
    return json{{"id", task.id},
                {"parentId", task.parent_id ? json(*task.parent_id) : json(nullptr)},
                {"depth", task.depth},
                {"service", task.service},
                {"command", task.command},
                {"input", task.input},
                {"dependsOn", task.depends_on}};
}

json outcome_of(const TaskRecord& task) {
    const auto timestamp = [](const std::optional<Timestamp>& at) {
        return at ? json(format_timestamp(*at)) : json(nullptr);
    };
    return json{{"output", task.output},
                {"trace", task.trace},
                {"children", task.children},
                {"attempts", task.attempts},
                {"startedAt", timestamp(task.started_at)},
                {"completedAt", timestamp(task.completed_at)}};
}

// A stored document, parsed without recursing.
json parse_stored(std::string_view text, std::size_t own_levels) {
    try {
        return detail::parse_json_within(text, detail::max_json_depth + own_levels);
    } catch (const detail::JsonTooDeep&) {
        throw std::runtime_error(fmt::format("a value nests deeper than {} levels", detail::max_json_depth));
    }
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
    // Writes one task: whole when @p saved_history is 0 (a new task), else its changing columns
    // and the history entries past @p saved_history.
    void write_task(std::string_view job_id, std::int64_t position, const TaskRecord& task, std::size_t saved_history,
                    const std::string* identity_text, const std::string& outcome_text, std::string_view operation);
    bool job_exists(std::string_view job_id, std::string_view operation);
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
    Statement select_job_;
    Statement select_tasks_;
    Statement select_history_;
    Statement select_ids_;
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
        "INSERT INTO jobs (id, seq, name, spec, result, created_at) "
        "VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs), ?2, ?3, NULL, ?4)",
        "prepare");
    insert_task_ = prepare(
        "INSERT INTO tasks (job_id, position, id, status, identity, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        "prepare");
    update_task_ = prepare("UPDATE tasks SET status = ?3, outcome = ?4 WHERE job_id = ?1 AND position = ?2", "prepare");
    insert_history_ = prepare(
        "INSERT INTO task_history (job_id, position, seq, status, at, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        "prepare");
    update_result_ = prepare("UPDATE jobs SET result = ?2 WHERE id = ?1", "prepare");
    select_job_ = prepare("SELECT spec, result FROM jobs WHERE id = ?1", "prepare");
    select_tasks_ =
        prepare("SELECT position, id, identity, status, outcome FROM tasks WHERE job_id = ?1 ORDER BY position", "prepare");
    select_history_ = prepare(
        "SELECT position, status, at, reason FROM task_history WHERE job_id = ?1 ORDER BY position, seq", "prepare");
    select_ids_ = prepare("SELECT id FROM jobs ORDER BY seq", "prepare");
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
    insert_task_ = prepare(
        "INSERT INTO tasks (job_id, position, id, status, identity, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        "migrate schema");
    insert_history_ = prepare(
        "INSERT INTO task_history (job_id, position, seq, status, at, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
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
        bind_text(use.get(), 3, spec_text, "create job");
        bind_text(use.get(), 4, format_timestamp(now_utc()), "create job");
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
            throw std::invalid_argument(fmt::format(
                "SqliteStore::save_tasks: task {} has {} history entries, fewer than the {} already saved",
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
    if (!job_exists(job_id, "save tasks")) {
        throw StoreError(fmt::format("SqliteStore: save tasks failed on {}: unknown job \"{}\"", file_, job_id));
    }
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
            const auto row = std::lower_bound(rows.begin(), rows.end(), entry.position,
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
        const std::string what = part == Part::spec   ? std::string("spec")
                                 : part == Part::task ? fmt::format("task record \"{}\"", task < rows.size() ? rows[task].id : std::string("?"))
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

// Placeholders until the store keeps leases and cancel requests.
std::vector<JobSummary> SqliteStore::list_jobs() const {
    return {};
}
void SqliteStore::acquire_lease(std::string_view, const LeaseHolder&, std::chrono::milliseconds) {}
LeaseRenewal SqliteStore::renew_lease(std::string_view, const LeaseHolder&, std::chrono::milliseconds) {
    return {};
}
void SqliteStore::release_lease(std::string_view, const LeaseHolder&) {}
void SqliteStore::request_cancel(std::string_view, std::string_view) {
    throw StoreError("request_cancel: not implemented yet");
}

}  // namespace jobgraph
