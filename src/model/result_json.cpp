// JSON form of task records and job results (docs/semantics.md), both ways, so that a
// store or a client can read back what a run wrote.
#include "jobgraph/result.hpp"
#include "jobgraph/task_record.hpp"

#include <stdexcept>
#include <string>

namespace jobgraph {
namespace {

using nlohmann::json;

json timestamp_or_null(const std::optional<Timestamp>& at) {
    return at ? json(format_timestamp(*at)) : json(nullptr);
}

Timestamp read_timestamp(const json& j) {
    const auto text = j.get<std::string>();
    if (auto at = parse_timestamp(text)) return *at;
    throw std::invalid_argument("invalid timestamp: " + text);
}

std::optional<Timestamp> read_optional_timestamp(const json& j) {
    if (j.is_null()) return std::nullopt;
    return read_timestamp(j);
}

}  // namespace

void to_json(json& j, const HistoryEntry& entry) {
    j = json{{"status", entry.status}, {"at", format_timestamp(entry.at)}};
    if (!entry.reason.empty()) j["reason"] = entry.reason;
}

void from_json(const json& j, HistoryEntry& entry) {
    entry.status = j.at("status").get<TaskStatus>();
    entry.at = read_timestamp(j.at("at"));
    entry.reason = j.value("reason", std::string{});
}

void to_json(json& j, const TaskRecord& record) {
    j = json{{"id", record.id},
             {"parentId", record.parent_id ? json(*record.parent_id) : json(nullptr)},
             {"depth", record.depth},
             {"service", record.service},
             {"command", record.command},
             {"input", record.input},
             {"output", record.output},
             {"trace", record.trace},
             {"status", record.status},
             {"dependsOn", record.depends_on},
             {"children", record.children},
             {"attempts", record.attempts},
             {"startedAt", timestamp_or_null(record.started_at)},
             {"completedAt", timestamp_or_null(record.completed_at)},
             {"history", record.history}};
    // What a task runs under is written only where it differs from the defaults.
    if (record.next_attempt_at) j["nextAttemptAt"] = format_timestamp(*record.next_attempt_at);
    if (record.priority != 0) j["priority"] = record.priority;
    if (record.timeout.count() != 0) j["timeout"] = record.timeout.count();
    if (record.retry != RetryPolicy{}) j["retry"] = record.retry;
}

void from_json(const json& j, TaskRecord& record) {
    record.id = j.at("id").get<std::string>();
    const auto& parent = j.at("parentId");
    record.parent_id = parent.is_null() ? std::nullopt : std::optional<std::string>(parent.get<std::string>());
    record.depth = j.at("depth").get<int>();
    record.service = j.at("service").get<std::string>();
    record.command = j.at("command").get<std::string>();
    record.input = j.at("input");
    record.output = j.at("output");
    record.trace = j.at("trace");
    record.status = j.at("status").get<TaskStatus>();
    record.depends_on = j.at("dependsOn").get<std::vector<std::string>>();
    record.children = j.at("children").get<std::vector<std::string>>();
    record.attempts = j.at("attempts").get<int>();
    record.started_at = read_optional_timestamp(j.at("startedAt"));
    record.completed_at = read_optional_timestamp(j.at("completedAt"));
    record.history = j.at("history").get<std::vector<HistoryEntry>>();
    record.next_attempt_at = j.contains("nextAttemptAt") ? read_optional_timestamp(j.at("nextAttemptAt")) : std::nullopt;
    record.priority = j.value("priority", 0);
    record.timeout = std::chrono::milliseconds(j.value("timeout", std::int64_t{0}));
    record.retry = j.contains("retry") ? j.at("retry").get<RetryPolicy>() : RetryPolicy{};
}

void to_json(json& j, const JobStats& stats) {
    j = json{{"total", stats.total},     {"succeeded", stats.succeeded}, {"failed", stats.failed},
             {"aborted", stats.aborted}, {"planned", stats.planned},     {"pending", stats.pending},
             {"retrying", stats.retrying},   {"wallMs", stats.wall_ms}};
}

void from_json(const json& j, JobStats& stats) {
    stats.total = j.at("total").get<std::size_t>();
    stats.succeeded = j.at("succeeded").get<std::size_t>();
    stats.failed = j.at("failed").get<std::size_t>();
    stats.aborted = j.at("aborted").get<std::size_t>();
    stats.planned = j.at("planned").get<std::size_t>();
    stats.pending = j.at("pending").get<std::size_t>();
    stats.retrying = j.value("retrying", std::size_t{0});
    stats.wall_ms = j.at("wallMs").get<double>();
}

void to_json(json& j, const JobHistoryEntry& entry) {
    j = json{{"status", entry.status}, {"at", format_timestamp(entry.at)}};
    if (!entry.reason.empty()) j["reason"] = entry.reason;
}

void from_json(const json& j, JobHistoryEntry& entry) {
    entry.status = j.at("status").get<JobStatus>();
    entry.at = read_timestamp(j.at("at"));
    entry.reason = j.value("reason", std::string{});
}

void to_json(json& j, const JobResult& result) {
    j = json{{"name", result.name},
             {"status", result.status},
             {"startedAt", format_timestamp(result.started_at)},
             {"completedAt", format_timestamp(result.completed_at)},
             {"stats", result.stats},
             {"tasks", result.tasks},
             {"history", result.history}};
    if (result.error_message) j["errorMessage"] = *result.error_message;
}

void from_json(const json& j, JobResult& result) {
    result.name = j.at("name").get<std::string>();
    result.status = j.at("status").get<JobStatus>();
    result.error_message =
        j.contains("errorMessage") ? std::optional<std::string>(j.at("errorMessage").get<std::string>()) : std::nullopt;
    result.started_at = read_timestamp(j.at("startedAt"));
    result.completed_at = read_timestamp(j.at("completedAt"));
    result.stats = j.at("stats").get<JobStats>();
    result.tasks = j.at("tasks").get<std::vector<TaskRecord>>();
    result.history = j.value("history", std::vector<JobHistoryEntry>{});
}

const TaskRecord* JobResult::find(std::string_view id) const noexcept {
    for (const auto& task : tasks) {
        if (task.id == id) return &task;
    }
    return nullptr;
}

const TaskRecord& JobResult::at(std::string_view id) const {
    if (const auto* task = find(id)) return *task;
    throw std::out_of_range("no task with id " + std::string(id));
}

JobStats count_statuses(const std::vector<TaskRecord>& tasks) {
    JobStats stats;
    stats.total = tasks.size();
    for (const auto& task : tasks) {
        switch (task.status) {
            case TaskStatus::succeeded:
                ++stats.succeeded;
                break;
            case TaskStatus::failed:
                ++stats.failed;
                break;
            case TaskStatus::aborted:
                ++stats.aborted;
                break;
            case TaskStatus::planned:
                ++stats.planned;
                break;
            case TaskStatus::retrying:
                ++stats.retrying;
                break;
            case TaskStatus::pending:
            case TaskStatus::started:
                ++stats.pending;
                break;
        }
    }
    return stats;
}

}  // namespace jobgraph
