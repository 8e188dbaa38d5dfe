#pragma once
/// @file spec.hpp
/// @brief Job and task specifications (docs/semantics.md) and their JSON form.

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
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

/// @brief One task to run: a service/command pair, its input and its dependencies.
struct TaskSpec {
    std::optional<std::string> id{};                  ///< explicit id; generated from the position when absent
    std::string service{};                            ///< non-empty
    std::string command{};                            ///< non-empty
    nlohmann::json input = nlohmann::json::object();  ///< must be a JSON object
    std::vector<std::string> depends_on{};            ///< ids of tasks this one waits for

    bool operator==(const TaskSpec&) const = default;
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
    std::vector<TaskSpec> tasks{};

    bool operator==(const JobSpec&) const = default;
};

/// @brief "parallel" or "sequential".
std::string_view to_string(Mode mode) noexcept;

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
