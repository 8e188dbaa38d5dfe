// The PostgreSQL job store: the same records, results and leases as the SQLite store, in
// tables any number of processes on any number of machines can share (pg_schema.cpp).
#include "jobgraph/postgres_store.hpp"

#include "model/json_limits.hpp"
#include "store/postgres/pg_connection.hpp"
#include "store/postgres/pg_schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <limits>
#include <mutex>
#include <random>
#include <stdexcept>

#include <signal.h>

namespace jobgraph {
namespace {

using detail::pg::Connection;
using detail::pg::Param;
using detail::pg::Result;
using detail::pg::Transaction;
using nlohmann::json;

constexpr int max_id_attempts = 16;
// What a stored document adds around the values it holds (inputs, outputs, traces), which came
// in held to max_json_depth: a spec and a result 3 levels (the job, its task list, a task), a
// list of task ids 1.
constexpr std::size_t spec_levels = 3;
constexpr std::size_t result_levels = 3;
constexpr std::size_t value_levels = 0;
constexpr std::size_t id_list_levels = 1;

// A timestamptz column as format_timestamp writes it (the session's time zone is UTC).
#define JOBGRAPH_PG_UTC(column) "to_char(" column ", 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

// JSON text of a value; strings that are not valid UTF-8 cannot be written, and are reported
// rather than silently replaced, so a record never comes back different from how it was saved.
template <typename T, typename Describe>
std::string encode(const T& value, const std::string& where, Describe describe) {
    try {
        return json(value).dump();
    } catch (const json::exception& e) {
        throw StoreError(fmt::format("PostgresStore: cannot write {} to {}: {}", describe(), where, e.what()));
    }
}

json parse_stored(std::string_view text, std::size_t own_levels) {
    try {
        return detail::parse_json_within(text, detail::max_json_depth + own_levels);
    } catch (const detail::JsonTooDeep&) {
        throw std::runtime_error(fmt::format("a value nests deeper than {} levels", detail::max_json_depth));
    }
}

Timestamp read_timestamp(const std::string& text) {
    if (auto at = parse_timestamp(text)) return *at;
    throw std::invalid_argument("invalid timestamp: " + text);
}

std::optional<Timestamp> read_optional_timestamp(const std::optional<std::string>& text) {
    if (!text) return std::nullopt;
    return read_timestamp(*text);
}

TaskStatus read_status(const std::string& name) {
    if (auto status = task_status_from_string(name)) return *status;
    throw std::invalid_argument("unknown status \"" + name + "\"");
}

std::string random_job_id() {
    std::random_device device;
    const std::uint64_t bits = (std::uint64_t{device()} << 32) | device();
    return fmt::format("job-{:012x}", bits & 0xFFFF'FFFF'FFFFull);
}

// Whether a process of this machine with this id is still there. A pid we cannot judge
// counts as alive: a lease is never taken from a holder that may still run.
bool process_alive(std::int64_t pid) {
    if (pid <= 0 || pid > INT_MAX) return true;
    return kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

// The task statuses a task never leaves, as a PostgreSQL array literal.
std::string final_statuses_array() {
    std::string names;
    for (const TaskStatus status : {TaskStatus::pending, TaskStatus::planned, TaskStatus::started, TaskStatus::retrying,
                                    TaskStatus::succeeded, TaskStatus::failed, TaskStatus::aborted}) {
        if (!is_final(status)) continue;
        if (!names.empty()) names += ',';
        names += to_string(status);
    }
    return "{" + names + "}";
}

// save_tasks sends its rows as one JSON array per statement, so that a batch of any size costs
// three statements: new tasks, known tasks, history entries. Each row's JSON documents (input,
// output, ...) travel as JSON strings and land in text columns as written.
constexpr const char* insert_tasks_sql =
    "INSERT INTO jobgraph_tasks (job_id, position, id, parent_id, depth, service, command, input, depends_on, "
    "status, output, trace, children, attempts, started_at, completed_at, next_attempt_at, timeout_ms, priority, "
    "retry_max_attempts, retry_delay_ms, retry_backoff, retry_max_delay_ms, retry_jitter) "
    "SELECT $1, r.position, r.id, r.parent_id, r.depth, r.service, r.command, r.input, r.depends_on, r.status, "
    "r.output, r.trace, r.children, r.attempts, r.started_at, r.completed_at, r.next_attempt_at, r.timeout_ms, "
    "r.priority, r.retry_max_attempts, r.retry_delay_ms, r.retry_backoff, r.retry_max_delay_ms, r.retry_jitter "
    "FROM json_to_recordset($2::json) AS r(position bigint, id text, parent_id text, depth integer, service text, "
    "command text, input text, depends_on text, status text, output text, trace text, children text, "
    "attempts integer, started_at timestamptz, completed_at timestamptz, next_attempt_at timestamptz, "
    "timeout_ms bigint, priority integer, retry_max_attempts integer, retry_delay_ms bigint, "
    "retry_backoff double precision, retry_max_delay_ms bigint, retry_jitter boolean)";
constexpr const char* update_tasks_sql =
    "UPDATE jobgraph_tasks AS t SET status = r.status, output = r.output, trace = r.trace, children = r.children, "
    "attempts = r.attempts, started_at = r.started_at, completed_at = r.completed_at, "
    "next_attempt_at = r.next_attempt_at, timeout_ms = r.timeout_ms, priority = r.priority, "
    "retry_max_attempts = r.retry_max_attempts, retry_delay_ms = r.retry_delay_ms, retry_backoff = r.retry_backoff, "
    "retry_max_delay_ms = r.retry_max_delay_ms, retry_jitter = r.retry_jitter "
    "FROM json_to_recordset($2::json) AS r(position bigint, status text, output text, trace text, children text, "
    "attempts integer, started_at timestamptz, completed_at timestamptz, next_attempt_at timestamptz, "
    "timeout_ms bigint, priority integer, retry_max_attempts integer, retry_delay_ms bigint, "
    "retry_backoff double precision, retry_max_delay_ms bigint, retry_jitter boolean) "
    "WHERE t.job_id = $1 AND t.position = r.position RETURNING t.position";
constexpr const char* insert_history_sql =
    "INSERT INTO jobgraph_task_history (job_id, position, seq, status, at, reason) "
    "SELECT $1, r.position, r.seq, r.status, r.at, r.reason "
    "FROM json_to_recordset($2::json) AS r(position bigint, seq integer, status text, at timestamptz, reason text)";

json timestamp_json(const std::optional<Timestamp>& at) {
    return at ? json(format_timestamp(*at)) : json(nullptr);
}

// The columns that change with a task's status, as a row of update_tasks_sql or insert_tasks_sql.
json changing_columns(std::int64_t position, const TaskRecord& task) {
    return json{{"position", position},
                {"status", to_string(task.status)},
                {"output", task.output.dump()},
                {"trace", task.trace.dump()},
                {"children", json(task.children).dump()},
                {"attempts", task.attempts},
                {"started_at", timestamp_json(task.started_at)},
                {"completed_at", timestamp_json(task.completed_at)},
                {"next_attempt_at", timestamp_json(task.next_attempt_at)},
                {"timeout_ms", task.timeout.count()},
                {"priority", task.priority},
                {"retry_max_attempts", task.retry.max_attempts},
                {"retry_delay_ms", task.retry.delay.count()},
                {"retry_backoff", task.retry.backoff},
                {"retry_max_delay_ms", task.retry.max_delay.count()},
                {"retry_jitter", task.retry.jitter}};
}

// Rows of one statement, gathered as JSON texts and sent as one array.
class JsonRows {
public:
    void add(const std::string& row) {
        text_ += text_.empty() ? '[' : ',';
        text_ += row;
    }
    bool empty() const noexcept { return text_.empty(); }
    std::string array() const { return text_ + ']'; }

private:
    std::string text_;
};

}  // namespace

class PostgresStore::Impl {
public:
    explicit Impl(const std::string& conninfo) : connection_(conninfo), where_(connection_.where()) {
        detail::pg::open_schema(connection_);
        host_ = LeaseHolder::for_this_process().host;
    }

    std::string create_job(const JobSpec& spec);
    void save_tasks(std::string_view job_id, std::span<const TaskWrite> tasks);
    void set_result(std::string_view job_id, const std::optional<JobResult>& result, std::string_view operation);
    std::optional<StoredJob> load(std::string_view job_id);
    std::vector<std::string> job_ids();
    std::vector<JobSummary> list_jobs();
    void acquire_lease(std::string_view job_id, const LeaseHolder& holder, std::chrono::milliseconds duration);
    LeaseRenewal renew_lease(std::string_view job_id, const LeaseHolder& holder, std::chrono::milliseconds duration);
    void release_lease(std::string_view job_id, const LeaseHolder& holder);
    void request_cancel(std::string_view job_id, std::string_view reason);

private:
    // Takes the connection for one operation, reconnecting first if the server went away.
    std::unique_lock<std::mutex> use() {
        std::unique_lock lock(mutex_);
        connection_.reconnect_if_broken();
        return lock;
    }
    [[noreturn]] void unknown_job(std::string_view operation, std::string_view job_id) const {
        throw StoreError(fmt::format("PostgresStore: {} failed on {}: unknown job \"{}\"", operation, where_, job_id));
    }

    std::mutex mutex_;
    Connection connection_;
    std::string where_;
    std::string host_;
};

std::string PostgresStore::Impl::create_job(const JobSpec& spec) {
    // A spec built in C++ has met no parser's limit; writing it out recurses as deep as it nests.
    for (std::size_t i = 0; i < spec.tasks.size(); ++i) {
        if (detail::depth_exceeds(spec.tasks[i].input)) {
            throw StoreError(fmt::format(
                "PostgresStore: cannot write the spec of job \"{}\" to {}: tasks[{}]: \"input\" nests deeper than {} "
                "levels",
                spec.name, where_, i, detail::max_json_depth));
        }
    }
    const std::string spec_text =
        encode(spec, where_, [&] { return fmt::format("the spec of job \"{}\"", spec.name); });
    const auto lock = use();
    // Random rather than sequential, so that ids never hint at a count and stay unique across
    // stores; a taken id (rare with 48 bits) is simply drawn again.
    for (int attempt = 0; attempt < max_id_attempts; ++attempt) {
        const std::string id = random_job_id();
        const Result inserted = connection_.exec(
            "INSERT INTO jobgraph_jobs (id, name, spec, spec_tasks, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, now(), now()) ON CONFLICT (id) DO NOTHING",
            {id, spec.name, spec_text, static_cast<std::int64_t>(spec.tasks.size())}, "create job");
        if (inserted.affected() == 1) return id;
    }
    throw StoreError(fmt::format("PostgresStore: create job failed on {}: no free job id", where_));
}

void PostgresStore::Impl::save_tasks(std::string_view job_id, std::span<const TaskWrite> tasks) {
    // Encode before taking the connection: JSON work need not hold up other threads.
    JsonRows new_tasks;
    JsonRows known_tasks;
    JsonRows history;
    std::vector<std::int64_t> known_positions;
    for (const TaskWrite& write : tasks) {
        if (write.record == nullptr) throw std::invalid_argument("PostgresStore::save_tasks: null task record");
        if (write.position > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())) {
            throw std::invalid_argument(
                fmt::format("PostgresStore::save_tasks: position {} is too large", write.position));
        }
        const TaskRecord& task = *write.record;
        if (write.saved_history > task.history.size()) {
            throw std::invalid_argument(fmt::format(
                "PostgresStore::save_tasks: task {} has {} history entries, fewer than the {} already saved", task.id,
                task.history.size(), write.saved_history));
        }
        const auto position = static_cast<std::int64_t>(write.position);
        // Text that is not valid UTF-8 cannot be written: it is reported, never replaced.
        try {
            json row = changing_columns(position, task);
            if (write.saved_history == 0) {
                row["id"] = task.id;
                row["parent_id"] = task.parent_id ? json(*task.parent_id) : json(nullptr);
                row["depth"] = task.depth;
                row["service"] = task.service;
                row["command"] = task.command;
                row["input"] = task.input.dump();
                row["depends_on"] = json(task.depends_on).dump();
                new_tasks.add(row.dump());
            } else {
                known_tasks.add(row.dump());
                known_positions.push_back(position);
            }
            for (std::size_t seq = write.saved_history; seq < task.history.size(); ++seq) {
                const HistoryEntry& entry = task.history[seq];
                history.add(json{{"position", position},
                                 {"seq", seq},
                                 {"status", to_string(entry.status)},
                                 {"at", format_timestamp(entry.at)},
                                 {"reason", entry.reason}}
                                .dump());
            }
        } catch (const json::exception& e) {
            throw StoreError(fmt::format("PostgresStore: cannot write task \"{}\" of job \"{}\" to {}: {}", task.id,
                                         job_id, where_, e.what()));
        }
    }

    const std::string_view operation = "save tasks";
    const auto lock = use();
    Transaction transaction(connection_, operation);
    // Also checks that the job exists, and orders this commit after any other of the same job.
    const Result job =
        connection_.exec("UPDATE jobgraph_jobs SET updated_at = now() WHERE id = $1", {job_id}, operation);
    if (job.affected() == 0) unknown_job(operation, job_id);
    if (!new_tasks.empty()) connection_.exec(insert_tasks_sql, {job_id, new_tasks.array()}, operation);
    if (!known_tasks.empty()) {
        const Result updated = connection_.exec(update_tasks_sql, {job_id, known_tasks.array()}, operation);
        if (updated.rows() != static_cast<int>(known_positions.size())) {
            std::vector<std::int64_t> found;
            for (int row = 0; row < updated.rows(); ++row) found.push_back(updated.int64(row, 0));
            for (const TaskWrite& write : tasks) {
                const auto position = static_cast<std::int64_t>(write.position);
                if (write.saved_history == 0 || std::find(found.begin(), found.end(), position) != found.end()) {
                    continue;
                }
                throw StoreError(fmt::format("PostgresStore: {} failed on {}: task {} of job \"{}\" was never saved",
                                             operation, where_, write.record->id, job_id));
            }
        }
    }
    if (!history.empty()) connection_.exec(insert_history_sql, {job_id, history.array()}, operation);
    transaction.commit();
}

void PostgresStore::Impl::set_result(std::string_view job_id, const std::optional<JobResult>& result,
                                     std::string_view operation) {
    std::optional<std::string> text;
    std::optional<std::string> status;
    if (result) {
        text = encode(*result, where_, [&] { return fmt::format("the result of job \"{}\"", job_id); });
        status = std::string(to_string(result->status));
    }
    const auto lock = use();
    const Result updated =
        connection_.exec("UPDATE jobgraph_jobs SET result = $2, result_status = $3, updated_at = now() WHERE id = $1",
                         {job_id, std::move(text), std::move(status)}, operation);
    if (updated.affected() == 0) unknown_job(operation, job_id);
}

std::optional<StoredJob> PostgresStore::Impl::load(std::string_view job_id) {
    const std::string_view operation = "load job";
    std::optional<Result> job_row;
    std::optional<Result> task_rows;
    std::optional<Result> history_rows;
    {
        const auto lock = use();
        // One snapshot, so that the job and its tasks come from the same commit.
        Transaction transaction(connection_, operation, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        job_row = connection_.exec("SELECT spec, result FROM jobgraph_jobs WHERE id = $1", {job_id}, operation);
        if (job_row->rows() == 0) return std::nullopt;
        task_rows = connection_.exec(
            "SELECT position, id, parent_id, depth, service, command, input, depends_on, status, output, trace, "
            "children, attempts, " JOBGRAPH_PG_UTC("started_at") ", " JOBGRAPH_PG_UTC("completed_at") ", "
            JOBGRAPH_PG_UTC("next_attempt_at") ", timeout_ms, priority, retry_max_attempts, retry_delay_ms, "
            "retry_backoff, retry_max_delay_ms, retry_jitter FROM jobgraph_tasks WHERE job_id = $1 ORDER BY position",
            {job_id}, operation);
        history_rows = connection_.exec(
            "SELECT position, seq, status, " JOBGRAPH_PG_UTC("at") ", reason FROM jobgraph_task_history "
            "WHERE job_id = $1 ORDER BY position, seq",
            {job_id}, operation);
        transaction.commit();
    }

    // Decoding happens outside the lock; a record that does not decode means a damaged store.
    StoredJob job;
    job.id = std::string(job_id);
    const Result& tasks = *task_rows;
    const Result& history = *history_rows;
    enum class Part { spec, task, result } part = Part::spec;
    int row = 0;
    try {
        job.spec = parse_stored(job_row->text(0, 0), spec_levels).get<JobSpec>();
        part = Part::task;
        job.tasks.reserve(static_cast<std::size_t>(tasks.rows()));
        int entry = 0;
        for (; row < tasks.rows(); ++row) {
            TaskRecord& task = job.tasks.emplace_back();
            const std::int64_t position = tasks.int64(row, 0);
            task.id = tasks.text(row, 1);
            task.parent_id = tasks.optional_text(row, 2);
            task.depth = static_cast<int>(tasks.int64(row, 3));
            task.service = tasks.text(row, 4);
            task.command = tasks.text(row, 5);
            task.input = parse_stored(tasks.text(row, 6), value_levels);
            task.depends_on = parse_stored(tasks.text(row, 7), id_list_levels).get<std::vector<std::string>>();
            task.status = read_status(tasks.text(row, 8));
            task.output = parse_stored(tasks.text(row, 9), value_levels);
            task.trace = parse_stored(tasks.text(row, 10), value_levels);
            task.children = parse_stored(tasks.text(row, 11), id_list_levels).get<std::vector<std::string>>();
            task.attempts = static_cast<int>(tasks.int64(row, 12));
            task.started_at = read_optional_timestamp(tasks.optional_text(row, 13));
            task.completed_at = read_optional_timestamp(tasks.optional_text(row, 14));
            task.next_attempt_at = read_optional_timestamp(tasks.optional_text(row, 15));
            task.timeout = std::chrono::milliseconds(tasks.int64(row, 16));
            task.priority = static_cast<int>(tasks.int64(row, 17));
            task.retry.max_attempts = static_cast<int>(tasks.int64(row, 18));
            task.retry.delay = std::chrono::milliseconds(tasks.int64(row, 19));
            task.retry.backoff = tasks.float8(row, 20);
            task.retry.max_delay = std::chrono::milliseconds(tasks.int64(row, 21));
            task.retry.jitter = tasks.boolean(row, 22);
            // Both come ordered by position; the foreign key keeps entries from lacking a task.
            for (; entry < history.rows() && history.int64(entry, 0) == position; ++entry) {
                if (history.int64(entry, 1) != static_cast<std::int64_t>(task.history.size())) {
                    throw std::invalid_argument("its history has a gap");
                }
                task.history.push_back(HistoryEntry{read_status(history.text(entry, 2)),
                                                    read_timestamp(history.text(entry, 3)), history.text(entry, 4)});
            }
            // A saved task has at least its "pending" entry; the store tells a task it has saved
            // from a new one by its saved history, so one without would be inserted a second time.
            if (task.history.empty()) throw std::invalid_argument("it has no history entries");
        }
        part = Part::result;
        if (!job_row->is_null(0, 1)) job.result = parse_stored(job_row->text(0, 1), result_levels).get<JobResult>();
    } catch (const std::exception& e) {
        const std::string what = part == Part::spec   ? std::string("spec")
                                 : part == Part::task ? fmt::format("task record \"{}\"", tasks.text(row, 1))
                                                      : std::string("result");
        throw StoreError(
            fmt::format("PostgresStore: job \"{}\" in {} has an unreadable {}: {}", job_id, where_, what, e.what()));
    }
    return job;
}

std::vector<std::string> PostgresStore::Impl::job_ids() {
    const auto lock = use();
    const Result rows = connection_.exec("SELECT id FROM jobgraph_jobs ORDER BY seq", {}, "list jobs");
    std::vector<std::string> ids;
    ids.reserve(static_cast<std::size_t>(rows.rows()));
    for (int row = 0; row < rows.rows(); ++row) ids.push_back(rows.text(row, 0));
    return ids;
}

std::vector<JobSummary> PostgresStore::Impl::list_jobs() {
    const std::string_view operation = "list jobs";
    std::optional<Result> rows;
    {
        const auto lock = use();
        rows = connection_.exec(
            "SELECT j.id, j.name, j.result_status, j.lease_holder IS NOT NULL AND j.lease_expires_at >= now(), "
            "j.lease_host, j.lease_pid, " JOBGRAPH_PG_UTC("j.created_at") ", " JOBGRAPH_PG_UTC("j.updated_at") ", "
            // A job that never ran has no task rows yet, and counts its spec's tasks.
            "counts.done, CASE WHEN counts.total > 0 THEN counts.total ELSE j.spec_tasks END "
            "FROM jobgraph_jobs j CROSS JOIN LATERAL ("
            "SELECT count(*) FILTER (WHERE t.status = ANY ($1::text[])) AS done, count(*) AS total "
            "FROM jobgraph_tasks t WHERE t.job_id = j.id) counts ORDER BY j.seq DESC",
            {final_statuses_array()}, operation);
    }
    std::vector<JobSummary> jobs;
    jobs.reserve(static_cast<std::size_t>(rows->rows()));
    for (int row = 0; row < rows->rows(); ++row) {
        JobSummary& job = jobs.emplace_back();
        job.id = rows->text(row, 0);
        job.name = rows->text(row, 1);
        // A lease of a process of this machine that has exited holds nothing.
        const bool running =
            rows->boolean(row, 3) && !(rows->text(row, 4) == host_ && !process_alive(rows->int64(row, 5)));
        job.status = running ? "running" : rows->optional_text(row, 2).value_or("pending");
        job.created_at = read_timestamp(rows->text(row, 6));
        job.updated_at = read_timestamp(rows->text(row, 7));
        job.done = static_cast<std::size_t>(rows->int64(row, 8));
        job.total = static_cast<std::size_t>(rows->int64(row, 9));
    }
    return jobs;
}

void PostgresStore::Impl::acquire_lease(std::string_view job_id, const LeaseHolder& holder,
                                        std::chrono::milliseconds duration) {
    const std::string_view operation = "acquire lease";
    const auto lock = use();
    Transaction transaction(connection_, operation);
    const Result current = connection_.exec(
        "SELECT lease_holder, lease_host, lease_pid, " JOBGRAPH_PG_UTC("lease_expires_at") ", "
        "lease_expires_at < now() FROM jobgraph_jobs WHERE id = $1 FOR UPDATE",
        {job_id}, operation);
    if (current.rows() == 0) unknown_job(operation, job_id);
    if (!current.is_null(0, 0) && current.text(0, 0) != holder.id && !current.boolean(0, 4)) {
        const std::string host = current.text(0, 1);
        const std::int64_t pid = current.int64(0, 2);
        const bool holder_exited = host == holder.host && host == host_ && !process_alive(pid);
        if (!holder_exited) {
            throw JobBusyError(fmt::format("Job {} is being run by another process (pid {} on host {}, lease until {})",
                                           job_id, pid, host, current.text(0, 3)));
        }
    }
    connection_.exec(
        "UPDATE jobgraph_jobs SET lease_holder = $2, lease_host = $3, lease_pid = $4, "
        "lease_expires_at = now() + $5::float8 * interval '1 millisecond' WHERE id = $1",
        {job_id, holder.id, holder.host, holder.pid, static_cast<std::int64_t>(duration.count())}, operation);
    transaction.commit();
}

LeaseRenewal PostgresStore::Impl::renew_lease(std::string_view job_id, const LeaseHolder& holder,
                                              std::chrono::milliseconds duration) {
    const std::string_view operation = "renew lease";
    const auto lock = use();
    // One statement: the renewal and what it learns come from the same moment.
    const Result renewed = connection_.exec(
        "WITH job AS (SELECT id, cancel_reason, coalesce(lease_holder = $2, false) AS held FROM jobgraph_jobs "
        "WHERE id = $1 FOR UPDATE), "
        "renewal AS (UPDATE jobgraph_jobs SET lease_expires_at = now() + $3::float8 * interval '1 millisecond' "
        "FROM job WHERE jobgraph_jobs.id = job.id AND job.held) "
        "SELECT held, cancel_reason FROM job",
        {job_id, holder.id, static_cast<std::int64_t>(duration.count())}, operation);
    if (renewed.rows() == 0) unknown_job(operation, job_id);
    return LeaseRenewal{renewed.boolean(0, 0), renewed.optional_text(0, 1)};
}

void PostgresStore::Impl::release_lease(std::string_view job_id, const LeaseHolder& holder) {
    // Nothing to do for a job this holder does not hold (any more), or that does not exist.
    const auto lock = use();
    connection_.exec(
        "UPDATE jobgraph_jobs SET lease_holder = NULL, lease_host = NULL, lease_pid = NULL, lease_expires_at = NULL "
        "WHERE id = $1 AND lease_holder = $2",
        {job_id, holder.id}, "release lease");
}

void PostgresStore::Impl::request_cancel(std::string_view job_id, std::string_view reason) {
    const std::string_view operation = "request cancel";
    const auto lock = use();
    // The first request's reason stands: a run may already be ending the job with it.
    const Result updated = connection_.exec(
        "UPDATE jobgraph_jobs SET cancel_reason = coalesce(cancel_reason, $2), updated_at = now() WHERE id = $1",
        {job_id, reason}, operation);
    if (updated.affected() == 0) unknown_job(operation, job_id);
}

PostgresStore::PostgresStore(const std::string& conninfo) : impl_(std::make_unique<Impl>(conninfo)) {}
PostgresStore::~PostgresStore() = default;

int PostgresStore::schema_version() noexcept {
    return detail::pg::schema_version;
}

std::string PostgresStore::create_job(const JobSpec& spec) {
    return impl_->create_job(spec);
}

void PostgresStore::save_tasks(std::string_view job_id, std::span<const TaskWrite> tasks) {
    impl_->save_tasks(job_id, tasks);
}

void PostgresStore::save_result(std::string_view job_id, const JobResult& result) {
    impl_->set_result(job_id, result, "save result");
}

void PostgresStore::clear_result(std::string_view job_id) {
    impl_->set_result(job_id, std::nullopt, "clear result");
}

std::optional<StoredJob> PostgresStore::load(std::string_view job_id) const {
    return impl_->load(job_id);
}

std::vector<std::string> PostgresStore::job_ids() const {
    return impl_->job_ids();
}

std::vector<JobSummary> PostgresStore::list_jobs() const {
    return impl_->list_jobs();
}

void PostgresStore::acquire_lease(std::string_view job_id, const LeaseHolder& holder,
                                  std::chrono::milliseconds duration) {
    impl_->acquire_lease(job_id, holder, duration);
}

LeaseRenewal PostgresStore::renew_lease(std::string_view job_id, const LeaseHolder& holder,
                                        std::chrono::milliseconds duration) {
    return impl_->renew_lease(job_id, holder, duration);
}

void PostgresStore::release_lease(std::string_view job_id, const LeaseHolder& holder) {
    impl_->release_lease(job_id, holder);
}

void PostgresStore::request_cancel(std::string_view job_id, std::string_view reason) {
    impl_->request_cancel(job_id, reason);
}

}  // namespace jobgraph

#undef JOBGRAPH_PG_UTC
