#include "jobgraph/errors.hpp"
#include "jobgraph/spec.hpp"
#include "model/json_limits.hpp"
#include "spec/spec_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace jobgraph {
namespace detail {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 5> task_fields{"id", "service", "command", "input", "dependsOn"};
constexpr std::array<std::string_view, 8> job_fields{"name",    "mode",           "maxTasks",        "maxDepth",
                                                     "timeout", "abortOnFailure", "requireApproval", "tasks"};

// A value as a problem quotes it. One nested too deep to write out safely (dump recurses) is
// described instead: such a value can reach here from C++, where no parser has bounded it.
std::string shown(const json& value) {
    if (depth_exceeds(value)) return fmt::format("a value nested deeper than {} levels", max_json_depth);
    return value.dump();
}

template <std::size_t N>
void report_unknown_fields(const json& object, const std::array<std::string_view, N>& known, const Where& where,
                           std::vector<std::string>& problems) {
    for (const auto& [key, value] : object.items()) {
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            problems.push_back(fmt::format("{}: unknown field \"{}\"", where.text(), key));
        }
    }
}

// Presence and emptiness are the validator's to report, so a missing string stays empty here.
void read_string(const json& object, const char* key, std::string& out, const Where& where,
                 std::vector<std::string>& problems) {
    const auto it = object.find(key);
    if (it == object.end()) return;
    if (it->is_string()) {
        out = it->get<std::string>();
    } else {
        problems.push_back(fmt::format("{}: \"{}\" must be a string, got {}", where.text(), key, shown(*it)));
    }
}

void read_integer(const json& object, const char* key, std::int64_t& out, std::vector<std::string>& problems) {
    const auto it = object.find(key);
    if (it == object.end()) return;
    if (!it->is_number_integer()) {
        problems.push_back(fmt::format("job: \"{}\" must be an integer, got {}", key, shown(*it)));
    } else if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
        problems.push_back(fmt::format("job: \"{}\" is too large: {}", key, shown(*it)));
    } else {
        out = it->get<std::int64_t>();
    }
}

void read_bool(const json& object, const char* key, bool& out, std::vector<std::string>& problems) {
    const auto it = object.find(key);
    if (it == object.end()) return;
    if (!it->is_boolean()) {
        problems.push_back(fmt::format("job: \"{}\" must be true or false, got {}", key, shown(*it)));
    } else {
        out = it->get<bool>();
    }
}

}  // namespace

std::string Where::text() const {
    return index == npos ? std::string(list) : fmt::format("{}[{}]", list, index);
}

TaskSpec read_task(const json& j, const Where& where, std::vector<std::string>& problems) {
    TaskSpec task;
    if (!j.is_object()) {
        problems.push_back(fmt::format("{}: a task must be a JSON object, got {}", where.text(), shown(j)));
        return task;
    }
    report_unknown_fields(j, task_fields, where, problems);
    if (const auto it = j.find("id"); it != j.end()) {
        if (it->is_string()) {
            task.id = it->get<std::string>();
        } else {
            problems.push_back(fmt::format("{}: \"id\" must be a string, got {}", where.text(), shown(*it)));
        }
    }
    read_string(j, "service", task.service, where, problems);
    read_string(j, "command", task.command, where, problems);
    if (const auto it = j.find("input"); it != j.end() && !it->is_null()) {
        if (depth_exceeds(*it)) {
            // Left out rather than copied: copying recurses as deep as the value does.
            problems.push_back(fmt::format("{}: \"input\" nests deeper than {} levels", where.text(), max_json_depth));
        } else if (!it->is_object()) {
            problems.push_back(fmt::format("{}: \"input\" must be a JSON object, got {}", where.text(), shown(*it)));
        } else {
            task.input = *it;
        }
    }
    if (const auto it = j.find("dependsOn"); it != j.end()) {
        if (!it->is_array()) {
            problems.push_back(fmt::format("{}: \"dependsOn\" must be an array of task ids", where.text()));
        } else {
            for (const auto& dep : *it) {
                if (dep.is_string() && !dep.get_ref<const std::string&>().empty()) {
                    task.depends_on.push_back(dep.get<std::string>());
                } else {
                    problems.push_back(fmt::format("{}: \"dependsOn\" entries must be non-empty strings, got {}",
                                                   where.text(), shown(dep)));
                }
            }
        }
    }
    return task;
}

JobSpec read_job(const json& j, std::vector<std::string>& problems) {
    JobSpec job;
    if (!j.is_object()) {
        problems.push_back(fmt::format("job: must be a JSON object, got {}", j.type_name()));
        return job;
    }
    report_unknown_fields(j, job_fields, Where{"job"}, problems);
    read_string(j, "name", job.name, Where{"job"}, problems);
    if (const auto it = j.find("mode"); it != j.end()) {
        if (*it == "parallel") {
            job.mode = Mode::parallel;
        } else if (*it == "sequential") {
            job.mode = Mode::sequential;
        } else {
            problems.push_back(fmt::format("job: \"mode\" must be \"parallel\" or \"sequential\", got {}", shown(*it)));
        }
    }
    read_integer(j, "maxTasks", job.limits.max_tasks, problems);
    read_integer(j, "maxDepth", job.limits.max_depth, problems);
    std::int64_t timeout_ms = 0;
    read_integer(j, "timeout", timeout_ms, problems);
    job.limits.timeout = std::chrono::milliseconds{timeout_ms};
    read_bool(j, "abortOnFailure", job.abort_on_failure, problems);
    read_bool(j, "requireApproval", job.require_approval, problems);

    const auto tasks = j.find("tasks");
    if (tasks == j.end()) return job;  // the validator reports a job without tasks
    if (!tasks->is_array()) {
        problems.push_back(fmt::format("job: \"tasks\" must be an array of task specs, got {}", tasks->type_name()));
    } else {
        job.tasks.reserve(tasks->size());
        for (std::size_t i = 0; i < tasks->size(); ++i) {
            job.tasks.push_back(read_task((*tasks)[i], Where{"tasks", i}, problems));
        }
    }
    return job;
}

}  // namespace detail

std::string_view to_string(Mode mode) noexcept {
    return mode == Mode::sequential ? "sequential" : "parallel";
}

void to_json(nlohmann::json& j, const RetryPolicy& retry) {
    j = nlohmann::json{{"maxAttempts", retry.max_attempts},
                       {"delay", retry.delay.count()},
                       {"backoff", retry.backoff},
                       {"maxDelay", retry.max_delay.count()},
                       {"jitter", retry.jitter}};
}

void from_json(const nlohmann::json& j, RetryPolicy& retry) {
    RetryPolicy read;
    read.max_attempts = j.value("maxAttempts", read.max_attempts);
    read.delay = std::chrono::milliseconds(j.value("delay", read.delay.count()));
    read.backoff = j.value("backoff", read.backoff);
    read.max_delay = std::chrono::milliseconds(j.value("maxDelay", read.max_delay.count()));
    read.jitter = j.value("jitter", read.jitter);
    retry = read;
}

void to_json(nlohmann::json& j, const TaskSpec& task) {
    j = nlohmann::json::object();
    if (task.id) j["id"] = *task.id;
    j["service"] = task.service;
    j["command"] = task.command;
    j["input"] = task.input;
    if (!task.depends_on.empty()) j["dependsOn"] = task.depends_on;
}

void from_json(const nlohmann::json& j, TaskSpec& task) {
    std::vector<std::string> problems;
    TaskSpec read = detail::read_task(j, detail::Where{"task"}, problems);
    if (!problems.empty()) throw SpecError("Invalid task specification:", std::move(problems));
    task = std::move(read);
}

void to_json(nlohmann::json& j, const JobSpec& job) {
    j = nlohmann::json{{"name", job.name},
                       {"mode", to_string(job.mode)},
                       {"maxTasks", job.limits.max_tasks},
                       {"maxDepth", job.limits.max_depth},
                       {"timeout", job.limits.timeout.count()},
                       {"abortOnFailure", job.abort_on_failure},
                       {"requireApproval", job.require_approval},
                       {"tasks", job.tasks}};
}

void from_json(const nlohmann::json& j, JobSpec& job) {
    std::vector<std::string> problems;
    JobSpec read = detail::read_job(j, problems);
    if (!problems.empty()) throw SpecError("Invalid job specification:", std::move(problems));
    job = std::move(read);
}

nlohmann::json parse_json_text(std::string_view text) {
    return detail::parse_json_within(text);
}

JobSpec parse_job(std::string_view text) {
    return parse_json_text(text).get<JobSpec>();
}

}  // namespace jobgraph
