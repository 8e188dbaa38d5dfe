#pragma once
/// @file status.hpp
/// @brief Task and job statuses and their names in the JSON contract.

#include <nlohmann/json.hpp>

#include <optional>
#include <string_view>

namespace jobgraph {

/// @brief Where a task is in its life. Final statuses: planned, succeeded, failed, aborted.
/// `retrying`: an attempt failed and the next one waits for its due time.
enum class TaskStatus { pending, planned, started, retrying, succeeded, failed, aborted };

/// @brief Outcome of a whole job. `cancelled` is final; an `interrupted` job can be resumed.
enum class JobStatus { running, succeeded, failed, awaiting_approval, cancelled, interrupted };

/// @brief The contract's name of a status, e.g. "succeeded".
std::string_view to_string(TaskStatus status) noexcept;
/// @brief The contract's name of a job status, e.g. "awaiting_approval".
std::string_view to_string(JobStatus status) noexcept;

/// @brief Parses a task status name; nullopt when the name is unknown.
std::optional<TaskStatus> task_status_from_string(std::string_view name) noexcept;
/// @brief Parses a job status name; nullopt when the name is unknown.
std::optional<JobStatus> job_status_from_string(std::string_view name) noexcept;

/// @brief True for statuses a task never leaves.
constexpr bool is_final(TaskStatus status) noexcept {
    return status == TaskStatus::planned || status == TaskStatus::succeeded || status == TaskStatus::failed ||
           status == TaskStatus::aborted;
}

void to_json(nlohmann::json& j, TaskStatus status);
void from_json(const nlohmann::json& j, TaskStatus& status);
void to_json(nlohmann::json& j, JobStatus status);
void from_json(const nlohmann::json& j, JobStatus& status);

}  // namespace jobgraph
