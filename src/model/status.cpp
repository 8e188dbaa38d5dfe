#include "jobgraph/status.hpp"

#include <array>
#include <stdexcept>
#include <string>
#include <utility>

namespace jobgraph {
namespace {

constexpr std::array<std::pair<TaskStatus, std::string_view>, 7> task_names{{
    {TaskStatus::pending, "pending"},
    {TaskStatus::planned, "planned"},
    {TaskStatus::started, "started"},
    {TaskStatus::retrying, "retrying"},
    {TaskStatus::succeeded, "succeeded"},
    {TaskStatus::failed, "failed"},
    {TaskStatus::aborted, "aborted"},
}};

constexpr std::array<std::pair<JobStatus, std::string_view>, 6> job_names{{
    {JobStatus::running, "running"},
    {JobStatus::succeeded, "succeeded"},
    {JobStatus::failed, "failed"},
    {JobStatus::awaiting_approval, "awaiting_approval"},
    {JobStatus::cancelled, "cancelled"},
    {JobStatus::interrupted, "interrupted"},
}};

template <typename Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& names, Enum value) {
    for (const auto& [candidate, name] : names) {
        if (candidate == value) return name;
    }
    return "unknown";
}

template <typename Enum, std::size_t N>
std::optional<Enum> value_of(const std::array<std::pair<Enum, std::string_view>, N>& names, std::string_view name) {
    for (const auto& [value, candidate] : names) {
        if (candidate == name) return value;
    }
    return std::nullopt;
}

template <typename Enum, std::size_t N>
Enum read_enum(const nlohmann::json& j, const std::array<std::pair<Enum, std::string_view>, N>& names,
               std::string_view what) {
    if (j.is_string()) {
        if (auto value = value_of(names, j.get_ref<const std::string&>())) return *value;
    }
    throw std::invalid_argument("unknown " + std::string(what) + ": " + j.dump());
}

}  // namespace

std::string_view to_string(TaskStatus status) noexcept {
    return name_of(task_names, status);
}
std::string_view to_string(JobStatus status) noexcept {
    return name_of(job_names, status);
}

std::optional<TaskStatus> task_status_from_string(std::string_view name) noexcept {
    return value_of(task_names, name);
}
std::optional<JobStatus> job_status_from_string(std::string_view name) noexcept {
    return value_of(job_names, name);
}

void to_json(nlohmann::json& j, TaskStatus status) {
    j = to_string(status);
}
void from_json(const nlohmann::json& j, TaskStatus& status) {
    status = read_enum(j, task_names, "task status");
}
void to_json(nlohmann::json& j, JobStatus status) {
    j = to_string(status);
}
void from_json(const nlohmann::json& j, JobStatus& status) {
    status = read_enum(j, job_names, "job status");
}

}  // namespace jobgraph
