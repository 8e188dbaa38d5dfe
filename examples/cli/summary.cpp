#include "summary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace jobgraph::cli {
namespace {

// Newlines and tabs would break the table; show them as spaces and cut to the column width.
std::string one_line(std::string_view text, std::size_t width) {
    std::string line;
    for (const char c : text) {
        const char shown = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
        if (shown == ' ' && (line.empty() || line.back() == ' ')) continue;
        line += shown;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (line.size() > width) line = line.substr(0, width - 3) + "...";
    return line;
}

std::string duration_text(const TaskRecord& task) {
    if (!task.started_at || !task.completed_at) return "-";
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(*task.completed_at - *task.started_at);
    return fmt::format("{:.1f}", static_cast<double>(us.count()) / 1000.0);
}

}  // namespace

std::string describe_outcome(const TaskRecord& task, std::size_t width) {
    const auto& output = task.output;
    if (task.status == TaskStatus::planned) return "waiting for approval";
    if (output.is_object() && output.contains("error") && output["error"].is_string() &&
        task.status != TaskStatus::succeeded) {
        return one_line(output["error"].get_ref<const std::string&>(), width);
    }
    if (task.service == "shell" && task.command == "run" && output.is_object() && output.contains("stdout") &&
        output["stdout"].is_string()) {
        return one_line(output["stdout"].get_ref<const std::string&>(), width);
    }
    if (output.is_null()) return "";
    return one_line(output.dump(), width);
}

std::string format_summary(const JobResult& result) {
    const auto& stats = result.stats;
    std::string text = fmt::format("job {}: {} in {:.1f} ms\n", result.name, to_string(result.status), stats.wall_ms);
    text += fmt::format("tasks: {} total, {} succeeded, {} failed, {} aborted, {} planned, {} pending\n", stats.total,
                        stats.succeeded, stats.failed, stats.aborted, stats.planned, stats.pending);
    if (result.error_message) text += fmt::format("error: {}\n", *result.error_message);
    if (result.tasks.empty()) return text;

    std::size_t id_width = 4;
    std::size_t handler_width = 7;
    for (const auto& task : result.tasks) {
        id_width = std::max(id_width, task.id.size());
        handler_width = std::max(handler_width, task.service.size() + 1 + task.command.size());
    }
    constexpr std::size_t outcome_width = 72;
    text += fmt::format("\n{:<{}}  {:<{}}  {:<9}  {:>8}  {}\n", "TASK", id_width, "HANDLER", handler_width, "STATUS",
                        "MS", "RESULT");
    for (const auto& task : result.tasks) {
        text += fmt::format("{:<{}}  {:<{}}  {:<9}  {:>8}  {}\n", task.id, id_width,
                            task.service + "/" + task.command, handler_width, to_string(task.status),
                            duration_text(task), describe_outcome(task, outcome_width));
    }
    return text;
}

}  // namespace jobgraph::cli
