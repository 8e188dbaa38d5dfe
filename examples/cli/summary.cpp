#include "summary.hpp"

#include "terminal_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace jobgraph::cli {
namespace {

// A command's output usually ends in a newline; the table shows what comes before it.
std::string_view without_trailing_space(std::string_view text) {
    const auto end = text.find_last_not_of(" \t\r\n");
    return end == std::string_view::npos ? std::string_view{} : text.substr(0, end + 1);
}

std::string one_line(std::string_view text, std::size_t width) {
    return fit_width(terminal_safe(without_trailing_space(text)), width);
}

std::string duration_text(const TaskRecord& task) {
    if (!task.started_at || !task.completed_at) return "-";
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(*task.completed_at - *task.started_at);
    return fmt::format("{:.1f}", static_cast<double>(us.count()) / 1000.0);
}

// Outputs are untrusted: bytes that are not UTF-8 must not make dump() throw.
std::string compact_json(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
    return one_line(compact_json(output), width);
}

std::string format_summary(const JobResult& result) {
    const auto& stats = result.stats;
    std::string text =
        fmt::format("job {}: {} in {:.1f} ms\n", terminal_safe(result.name), to_string(result.status), stats.wall_ms);
    text += fmt::format("tasks: {} total, {} succeeded, {} failed, {} aborted, {} planned, {} pending\n", stats.total,
                        stats.succeeded, stats.failed, stats.aborted, stats.planned, stats.pending);
    if (result.error_message) text += fmt::format("error: {}\n", terminal_safe(*result.error_message));
    if (result.tasks.empty()) return text;

    struct Row {
        std::string id;
        std::string handler;
    };
    std::vector<Row> rows;
    rows.reserve(result.tasks.size());
    std::size_t id_width = 4;
    std::size_t handler_width = 7;
    for (const auto& task : result.tasks) {
        Row row{terminal_safe(task.id), terminal_safe(task.service + "/" + task.command)};
        id_width = std::max(id_width, display_width(row.id));
        handler_width = std::max(handler_width, display_width(row.handler));
        rows.push_back(std::move(row));
    }
    // Padded by display width here: fmt's own width counts combining marks as a column.
    constexpr std::size_t outcome_width = 72;
    text += fmt::format("\n{}  {}  {:<9}  {:>8}  {}\n", pad_to_width("TASK", id_width),
                        pad_to_width("HANDLER", handler_width), "STATUS", "MS", "RESULT");
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const TaskRecord& task = result.tasks[i];
        text += fmt::format("{}  {}  {:<9}  {:>8}  {}\n", pad_to_width(rows[i].id, id_width),
                            pad_to_width(rows[i].handler, handler_width), to_string(task.status), duration_text(task),
                            describe_outcome(task, outcome_width));
    }
    return text;
}

}  // namespace jobgraph::cli
