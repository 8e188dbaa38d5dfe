#pragma once
/// @file spec.hpp
/// @brief Job and task specifications (docs/semantics.md) and their JSON form.

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobgraph {

/// @brief How root tasks are ordered besides their declared dependencies.
enum class Mode {
    parallel,   ///< only dependsOn orders tasks
    sequential  ///< each root also waits until the root before it in the list is settled
};

/// @brief How often and how soon a failed task is tried again (JSON: "retry").
struct RetryPolicy {
    int max_attempts = 1;                         ///< handler calls in all, the first included; >= 1
    std::chrono::milliseconds delay{1000};        ///< before the second attempt; >= 0
    double backoff = 2.0;                         ///< each further delay grows by this factor; >= 1
    std::chrono::milliseconds max_delay{60000};   ///< cap on one delay; >= delay
    bool jitter = true;                           ///< draw each delay uniformly from [0, computed delay]

    bool operator==(const RetryPolicy&) const = default;
};

/// @brief One task to run: a service/command pair, its input and its dependencies.
struct TaskSpec {
    std::optional<std::string> id{};                  ///< explicit id; generated from the position when absent
    std::string service{};                            ///< non-empty
    std::string command{};                            ///< non-empty
    nlohmann::json input = nlohmann::json::object();  ///< must be a JSON object
    std::vector<std::string> depends_on{};            ///< ids of tasks this one waits for
    /// Milliseconds one attempt may run; 0 means none. Unset: the job's taskDefaults, else 0.
    std::optional<std::chrono::milliseconds> timeout{};
    /// Unset: the job's taskDefaults, else one attempt.
    std::optional<RetryPolicy> retry{};
    /// Higher starts first among ready tasks. Unset: the job's taskDefaults, else 0.
    std::optional<int> priority{};

    bool operator==(const TaskSpec&) const = default;
};

/// @brief Values for every task of a job (spawned children included) that sets none of its own.
struct TaskDefaults {
    std::optional<std::chrono::milliseconds> timeout{};
    std::optional<RetryPolicy> retry{};
    std::optional<int> priority{};

    bool operator==(const TaskDefaults&) const = default;
};

/// @brief The limits a job runs under; handlers can read them from their context.
struct JobLimits {
    std::int64_t max_tasks = 1000;         ///< initial and spawned tasks together, >= 1
    std::int64_t max_depth = 10;           ///< deepest level a task may have; roots are 0
    std::chrono::milliseconds timeout{0};  ///< whole-job limit; 0 means none

    bool operator==(const JobLimits&) const = default;
};

/// @brief A named set of tasks with limits and options.
struct JobSpec {
    std::string name{};
    Mode mode = Mode::parallel;
    JobLimits limits{};
    bool abort_on_failure = true;   ///< after the first failure start nothing more
    bool require_approval = false;  ///< plan mode: side-effecting children are planned, not run
    TaskDefaults task_defaults{};
    /// At most this many tasks of a service ("ai") or service/command pair ("ai/complete")
    /// run at once; every key that matches a task applies. Values >= 1.
    std::map<std::string, std::int64_t, std::less<>> concurrency{};
    std::vector<TaskSpec> tasks{};

    bool operator==(const JobSpec&) const = default;
};

/// @brief "parallel" or "sequential".
std::string_view to_string(Mode mode) noexcept;

/// @brief Writes "maxAttempts", "delay", "backoff", "maxDelay", "jitter".
void to_json(nlohmann::json& j, const RetryPolicy& retry);
/// @brief Reads a retry policy; absent members keep their defaults. Throws SpecError.
void from_json(const nlohmann::json& j, RetryPolicy& retry);

/// @brief Writes the contract's JSON names ("dependsOn", "maxTasks", ...).
void to_json(nlohmann::json& j, const TaskSpec& task);
/// @brief Reads a task spec; throws SpecError listing every problem.
void from_json(const nlohmann::json& j, TaskSpec& task);
void to_json(nlohmann::json& j, const JobSpec& job);
/// @brief Reads a job spec; throws SpecError listing every problem of shape and type.
void from_json(const nlohmann::json& j, JobSpec& job);

/// @brief Parses JSON text; throws JsonSyntaxError naming the line and column of the fault.
nlohmann::json parse_json_text(std::string_view text);

/// @brief Parses and reads a job written as JSON text (JsonSyntaxError or SpecError on failure).
JobSpec parse_job(std::string_view text);

}  // namespace jobgraph
