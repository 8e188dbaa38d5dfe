#pragma once
/// @file task_record.hpp
/// @brief What the job keeps about each task: identity, data, status and history.
///
/// Records are plain values so that a store can save and restore them as they are.

#include "jobgraph/spec.hpp"
#include "jobgraph/status.hpp"
#include "jobgraph/time.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace jobgraph {

/// @brief One change of status, appended and never rewritten.
struct HistoryEntry {
    TaskStatus status = TaskStatus::pending;
    Timestamp at{};
    std::string reason{};  ///< why, where there is a reason; empty otherwise

    bool operator==(const HistoryEntry&) const = default;
};

/// @brief Everything known about one task of a job.
struct TaskRecord {
    std::string id{};
    std::optional<std::string> parent_id{};  ///< nullopt for a root task
    int depth = 0;                           ///< roots 0, children their parent's depth plus one
    std::string service{};
    std::string command{};
    nlohmann::json input = nlohmann::json::object();
    nlohmann::json output{};  ///< null until the task finishes
    nlohmann::json trace{};   ///< null unless the handler set one
    TaskStatus status = TaskStatus::pending;
    std::vector<std::string> depends_on{};  ///< as declared; join waits are not written here
    std::vector<std::string> children{};    ///< ids of the tasks it spawned, in batch order
    int attempts = 0;                       ///< how many times its handler was called
    std::optional<Timestamp> started_at{};    ///< the first attempt's start
    std::optional<Timestamp> completed_at{};  ///< the final outcome's time
    /// While `retrying`: when the next attempt is due.
    std::optional<Timestamp> next_attempt_at{};
    // What the task runs under, its own spec field or else the job's taskDefaults.
    std::chrono::milliseconds timeout{0};  ///< per attempt; 0 means none
    RetryPolicy retry{};
    int priority = 0;
    std::vector<HistoryEntry> history{};

    bool operator==(const TaskRecord&) const = default;
};

void to_json(nlohmann::json& j, const HistoryEntry& entry);
void from_json(const nlohmann::json& j, HistoryEntry& entry);
void to_json(nlohmann::json& j, const TaskRecord& record);
void from_json(const nlohmann::json& j, TaskRecord& record);

}  // namespace jobgraph
