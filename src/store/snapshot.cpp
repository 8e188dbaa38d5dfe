// A stored job as it stands, for looking at it without running it (the runner's `show`).
#include "jobgraph/store.hpp"

#include "spec/task_policy.hpp"

#include <algorithm>
#include <numeric>
#include <string>

namespace jobgraph {
namespace {

// A job that never ran has no task records yet: its initial tasks, as a run would make them.
std::vector<TaskRecord> initial_records(const JobSpec& spec, Timestamp at) {
    std::vector<TaskRecord> records;
    records.reserve(spec.tasks.size());
    for (std::size_t i = 0; i < spec.tasks.size(); ++i) {
        const TaskSpec& task = spec.tasks[i];
        TaskRecord record;
        record.id = task.id ? *task.id : std::to_string(i);
        record.service = task.service;
        record.command = task.command;
        record.input = task.input;
        record.depends_on = task.depends_on;
        detail::apply_task_policy(record, task, spec.task_defaults);
        record.history.push_back(HistoryEntry{TaskStatus::pending, at, {}});
        records.push_back(std::move(record));
    }
    return records;
}

}  // namespace

JobResult snapshot_of(const StoredJob& job) {
    if (job.result) return *job.result;
    const Timestamp now = now_utc();
    JobResult result;
    result.name = job.spec.name;
    result.status = JobStatus::running;
    std::vector<TaskRecord> tasks = job.tasks.empty() ? initial_records(job.spec, now) : job.tasks;

    // As a run orders them: by first start, ties in creation order, never-started tasks last.
    std::vector<std::size_t> order(tasks.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const auto& left = tasks[a].started_at;
        const auto& right = tasks[b].started_at;
        if (left && right) return *left < *right;
        return left.has_value() && !right.has_value();
    });
    // The job's span so far: from its first recorded change to its last.
    result.started_at = now;
    result.completed_at = Timestamp{};
    for (const auto& task : tasks) {
        for (const auto& entry : task.history) {
            result.started_at = std::min(result.started_at, entry.at);
            result.completed_at = std::max(result.completed_at, entry.at);
        }
    }
    if (result.completed_at < result.started_at) result.completed_at = result.started_at;
    result.stats = count_statuses(tasks);
    result.stats.wall_ms = std::chrono::duration<double, std::milli>(result.completed_at - result.started_at).count();
    result.tasks.reserve(tasks.size());
    for (const std::size_t i : order) result.tasks.push_back(std::move(tasks[i]));
    return result;
}

}  // namespace jobgraph
