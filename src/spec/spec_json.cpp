#include "jobgraph/errors.hpp"
#include "jobgraph/spec.hpp"
#include "model/json_limits.hpp"
#include "spec/spec_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <optional>

namespace jobgraph {
namespace detail {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 8> task_fields{"id",         "service", "command", "input",
                                                      "dependsOn", "timeout", "retry",   "priority"};
constexpr std::array<std::string_view, 10> job_fields{
    "name", "mode", "maxTasks", "maxDepth", "timeout", "abortOnFailure", "requireApproval", "taskDefaults",
    "concurrency", "tasks"};
constexpr std::array<std::string_view, 3> task_default_fields{"timeout", "retry", "priority"};
constexpr std::array<std::string_view, 5> retry_fields{"maxAttempts", "delay", "backoff", "maxDelay", "jitter"};

// A value as a problem quotes it. One nested too deep to write out safely (dump recurses) is
// described instead: such a value can reach here from C++, where no parser has bounded it.
std::string shown(const json& value) {
    if (depth_exceeds(value)) return fmt::format("a value nested deeper than {} levels", max_json_depth);
    return value.dump();
}

// @p prefix names the enclosing member for fields nested in one: "retry." gives "retry.tries".
template <std::size_t N>
void report_unknown_fields(const json& object, const std::array<std::string_view, N>& known, const Where& where,
                           std::vector<std::string>& problems, std::string_view prefix = {}) {
    for (const auto& [key, value] : object.items()) {
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            problems.push_back(fmt::format("{}: unknown field \"{}{}\"", where.text(), prefix, key));
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

// Ranges are the validator's to report; here only what the C++ type cannot hold is refused.
std::optional<std::int64_t> read_int64(const json& value, const Where& where, std::string_view label,
                                       std::vector<std::string>& problems) {
    if (!value.is_number_integer()) {
        problems.push_back(fmt::format("{}: \"{}\" must be an integer, got {}", where.text(), label, shown(value)));
        return std::nullopt;
    }
    if (value.is_number_unsigned() && value.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
        problems.push_back(fmt::format("{}: \"{}\" is too large: {}", where.text(), label, shown(value)));
        return std::nullopt;
    }
    return value.get<std::int64_t>();
}

std::optional<int> read_int(const json& value, const Where& where, std::string_view label,
                            std::vector<std::string>& problems) {
    const auto read = read_int64(value, where, label, problems);
    if (!read) return std::nullopt;
    if (*read > std::numeric_limits<int>::max()) {
        problems.push_back(fmt::format("{}: \"{}\" is too large: {}", where.text(), label, *read));
        return std::nullopt;
    }
    if (*read < std::numeric_limits<int>::min()) {
        problems.push_back(fmt::format("{}: \"{}\" is too small: {}", where.text(), label, *read));
        return std::nullopt;
    }
    return static_cast<int>(*read);
}

std::optional<bool> read_bool(const json& value, const Where& where, std::string_view label,
                              std::vector<std::string>& problems) {
    if (!value.is_boolean()) {
        problems.push_back(
            fmt::format("{}: \"{}\" must be true or false, got {}", where.text(), label, shown(value)));
        return std::nullopt;
    }
    return value.get<bool>();
}

void read_job_integer(const json& object, const char* key, std::int64_t& out, std::vector<std::string>& problems) {
    const auto it = object.find(key);
    if (it == object.end()) return;
    if (const auto read = read_int64(*it, Where{"job"}, key, problems)) out = *read;
}

void read_job_bool(const json& object, const char* key, bool& out, std::vector<std::string>& problems) {
    const auto it = object.find(key);
    if (it == object.end()) return;
    if (const auto read = read_bool(*it, Where{"job"}, key, problems)) out = *read;
}

// The members of an object given as "retry"; absent ones keep their defaults. @p prefix is put
// before each member's name in problems ("retry." inside a task).
RetryPolicy read_retry_members(const json& object, const Where& where, std::string_view prefix,
                               std::vector<std::string>& problems) {
    RetryPolicy retry;
    report_unknown_fields(object, retry_fields, where, problems, prefix);
    const auto label = [prefix](std::string_view member) { return fmt::format("{}{}", prefix, member); };
    if (const auto it = object.find("maxAttempts"); it != object.end()) {
        if (const auto read = read_int(*it, where, label("maxAttempts"), problems)) retry.max_attempts = *read;
    }
    if (const auto it = object.find("delay"); it != object.end()) {
        if (const auto read = read_int64(*it, where, label("delay"), problems)) {
            retry.delay = std::chrono::milliseconds{*read};
        }
    }
    if (const auto it = object.find("backoff"); it != object.end()) {
        if (it->is_number()) {
            retry.backoff = it->get<double>();
        } else {
            problems.push_back(
                fmt::format("{}: \"{}\" must be a number, got {}", where.text(), label("backoff"), shown(*it)));
        }
    }
    if (const auto it = object.find("maxDelay"); it != object.end()) {
        if (const auto read = read_int64(*it, where, label("maxDelay"), problems)) {
            retry.max_delay = std::chrono::milliseconds{*read};
        }
    }
    if (const auto it = object.find("jitter"); it != object.end()) {
        if (const auto read = read_bool(*it, where, label("jitter"), problems)) retry.jitter = *read;
    }
    return retry;
}

// "timeout", "retry" and "priority": the same members in a task spec and in taskDefaults.
void read_task_policy(const json& object, const Where& where, std::optional<std::chrono::milliseconds>& timeout,
                      std::optional<RetryPolicy>& retry, std::optional<int>& priority,
                      std::vector<std::string>& problems) {
    if (const auto it = object.find("timeout"); it != object.end()) {
        if (const auto read = read_int64(*it, where, "timeout", problems)) timeout = std::chrono::milliseconds{*read};
    }
    if (const auto it = object.find("retry"); it != object.end()) {
        if (it->is_object()) {
            retry = read_retry_members(*it, where, "retry.", problems);
        } else {
            problems.push_back(fmt::format("{}: \"retry\" must be a JSON object, got {}", where.text(), shown(*it)));
        }
    }
    if (const auto it = object.find("priority"); it != object.end()) {
        if (const auto read = read_int(*it, where, "priority", problems)) priority = *read;
    }
}

void read_task_defaults(const json& object, TaskDefaults& defaults, std::vector<std::string>& problems) {
    const auto it = object.find("taskDefaults");
    if (it == object.end()) return;
    if (!it->is_object()) {
        problems.push_back(fmt::format("job: \"taskDefaults\" must be a JSON object, got {}", shown(*it)));
        return;
    }
    const Where where{"taskDefaults"};
    report_unknown_fields(*it, task_default_fields, where, problems);
    read_task_policy(*it, where, defaults.timeout, defaults.retry, defaults.priority, problems);
}

// Whether each key names a registered service or pair is the validator's to say.
void read_concurrency(const json& object, std::map<std::string, std::int64_t, std::less<>>& limits,
                      std::vector<std::string>& problems) {
    const auto it = object.find("concurrency");
    if (it == object.end()) return;
    if (!it->is_object()) {
        problems.push_back(fmt::format("job: \"concurrency\" must be a JSON object, got {}", shown(*it)));
        return;
    }
    const Where where{"concurrency"};
    for (const auto& [key, value] : it->items()) {
        if (const auto read = read_int64(value, where, key, problems)) limits.emplace(key, *read);
    }
}

json task_defaults_json(const TaskDefaults& defaults) {
    json j = json::object();
    if (defaults.timeout) j["timeout"] = defaults.timeout->count();
    if (defaults.retry) j["retry"] = *defaults.retry;
    if (defaults.priority) j["priority"] = *defaults.priority;
    return j;
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
    read_task_policy(j, where, task.timeout, task.retry, task.priority, problems);
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
    read_job_integer(j, "maxTasks", job.limits.max_tasks, problems);
    read_job_integer(j, "maxDepth", job.limits.max_depth, problems);
    std::int64_t timeout_ms = 0;
    read_job_integer(j, "timeout", timeout_ms, problems);
    job.limits.timeout = std::chrono::milliseconds{timeout_ms};
    read_job_bool(j, "abortOnFailure", job.abort_on_failure, problems);
    read_job_bool(j, "requireApproval", job.require_approval, problems);
    read_task_defaults(j, job.task_defaults, problems);
    read_concurrency(j, job.concurrency, problems);

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
    std::vector<std::string> problems;
    RetryPolicy read;
    if (j.is_object()) {
        read = detail::read_retry_members(j, detail::Where{"retry"}, "", problems);
    } else {
        problems.push_back(fmt::format("retry: must be a JSON object, got {}", detail::shown(j)));
    }
    if (!problems.empty()) throw SpecError("Invalid retry policy:", std::move(problems));
    retry = read;
}

void to_json(nlohmann::json& j, const TaskSpec& task) {
    j = nlohmann::json::object();
    if (task.id) j["id"] = *task.id;
    j["service"] = task.service;
    j["command"] = task.command;
    j["input"] = task.input;
    if (!task.depends_on.empty()) j["dependsOn"] = task.depends_on;
    if (task.timeout) j["timeout"] = task.timeout->count();
    if (task.retry) j["retry"] = *task.retry;
    if (task.priority) j["priority"] = *task.priority;
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
    if (job.task_defaults != TaskDefaults{}) j["taskDefaults"] = detail::task_defaults_json(job.task_defaults);
    if (!job.concurrency.empty()) j["concurrency"] = job.concurrency;
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
