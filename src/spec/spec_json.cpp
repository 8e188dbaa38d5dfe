#include "jobgraph/errors.hpp"
#include "jobgraph/spec.hpp"
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
        problems.push_back(fmt::format("{}: \"{}\" must be a string, got {}", where.text(), key, it->dump()));
    }
}

void read_integer(const json& object, const char* key, std::int64_t& out, std::vector<std::string>& problems) {
    const auto it = object.find(key);
    if (it == object.end()) return;
    if (!it->is_number_integer()) {
        problems.push_back(fmt::format("job: \"{}\" must be an integer, got {}", key, it->dump()));
    } else if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
        problems.push_back(fmt::format("job: \"{}\" is too large: {}", key, it->dump()));
    } else {
        out = it->get<std::int64_t>();
    }
}

void read_bool(const json& object, const char* key, bool& out, std::vector<std::string>& problems) {
    const auto it = object.find(key);
    if (it == object.end()) return;
    if (!it->is_boolean()) {
        problems.push_back(fmt::format("job: \"{}\" must be true or false, got {}", key, it->dump()));
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
        problems.push_back(fmt::format("{}: a task must be a JSON object, got {}", where.text(), j.dump()));
        return task;
    }
    report_unknown_fields(j, task_fields, where, problems);
    if (const auto it = j.find("id"); it != j.end()) {
        if (it->is_string()) {
            task.id = it->get<std::string>();
        } else {
            problems.push_back(fmt::format("{}: \"id\" must be a string, got {}", where.text(), it->dump()));
        }
    }
    read_string(j, "service", task.service, where, problems);
    read_string(j, "command", task.command, where, problems);
    if (const auto it = j.find("input"); it != j.end() && !it->is_null()) {
        if (!it->is_object()) {
            problems.push_back(fmt::format("{}: \"input\" must be a JSON object, got {}", where.text(), it->dump()));
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
                                                   where.text(), dep.dump()));
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
            problems.push_back(fmt::format("job: \"mode\" must be \"parallel\" or \"sequential\", got {}", it->dump()));
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
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& error) {
        // Count lines up to the byte the parser stopped at (error.byte is 1-based).
        const std::size_t stop = std::min<std::size_t>(error.byte > 0 ? error.byte - 1 : 0, text.size());
        std::size_t line = 1;
        std::size_t column = 1;
        for (std::size_t i = 0; i < stop; ++i) {
            if (text[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        // Keep the parser's explanation, without its own "[json.exception...] parse error at ...:" lead.
        std::string_view detail = error.what();
        if (const auto colon = detail.find(": "); colon != std::string_view::npos) detail.remove_prefix(colon + 2);
        throw JsonSyntaxError(fmt::format("malformed JSON at line {}, column {}: {}", line, column, detail), line,
                              column);
    }
}

JobSpec parse_job(std::string_view text) {
    return parse_json_text(text).get<JobSpec>();
}

}  // namespace jobgraph
