#pragma once
/// @file result.hpp
/// @brief The outcome of a job run (docs/semantics.md).

#include "jobgraph/status.hpp"
#include "jobgraph/task_record.hpp"
#include "jobgraph/time.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobgraph {

/// @brief Counts of tasks by final status, and the wall time of the run.
struct JobStats {
    std::size_t total = 0;
    std::size_t succeeded = 0;
    std::size_t failed = 0;
    std::size_t aborted = 0;
    std::size_t planned = 0;
    std::size_t pending = 0;
    std::size_t retrying = 0;
    double wall_ms = 0.0;

    bool operator==(const JobStats&) const = default;
};

/// @brief One change of the job's own status.
struct JobHistoryEntry {
    JobStatus status = JobStatus::running;
    Timestamp at{};
    std::string reason{};

    bool operator==(const JobHistoryEntry&) const = default;
};

/// @brief What a run returns: the job's status, stats and every task record.
struct JobResult {
    std::string name{};
    JobStatus status = JobStatus::running;
    std::optional<std::string> error_message{};  ///< only for a job-level error
    Timestamp started_at{};
    Timestamp completed_at{};
    JobStats stats;
    /// Ordered by start, never-started tasks last in creation order. Equal start times (to the
    /// microsecond) keep the order the tasks started in, which for tasks started together is
    /// creation order.
    std::vector<TaskRecord> tasks{};
    std::vector<JobHistoryEntry> history{};

    /// @brief The record of the task with this id, or nullptr. A linear search: to look up many
    /// tasks of a large result, index `tasks` by id once instead.
    const TaskRecord* find(std::string_view id) const noexcept;
    /// @brief The record of the task with this id; throws std::out_of_range if there is none.
    const TaskRecord& at(std::string_view id) const;

    bool operator==(const JobResult&) const = default;
};

/// @brief Counts the records by status (wall_ms is left at 0).
JobStats count_statuses(const std::vector<TaskRecord>& tasks);

void to_json(nlohmann::json& j, const JobStats& stats);
void from_json(const nlohmann::json& j, JobStats& stats);
void to_json(nlohmann::json& j, const JobHistoryEntry& entry);
void from_json(const nlohmann::json& j, JobHistoryEntry& entry);
void to_json(nlohmann::json& j, const JobResult& result);
void from_json(const nlohmann::json& j, JobResult& result);

}  // namespace jobgraph
