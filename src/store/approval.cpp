// Approval of planned work (docs/semantics.md): planned tasks go back to pending in the
// store, and the next resume runs them.
#include "jobgraph/store.hpp"

#include <fmt/format.h>

namespace jobgraph {

std::size_t approve_planned(JobStore& store, std::string_view job_id) {
    std::optional<StoredJob> job = store.load(job_id);
    if (!job) throw StoreError(fmt::format("No job {} in the store", job_id));
    const Timestamp at = now_utc();
    std::vector<TaskWrite> approved;
    for (std::size_t i = 0; i < job->tasks.size(); ++i) {
        TaskRecord& task = job->tasks[i];
        if (task.status != TaskStatus::planned) continue;
        const std::size_t saved = task.history.size();
        task.status = TaskStatus::pending;
        task.completed_at.reset();
        task.history.push_back(HistoryEntry{TaskStatus::pending, at, "Approved"});
        approved.push_back(TaskWrite{i, &task, saved});
    }
    if (approved.empty()) return 0;
    store.save_tasks(job_id, approved);
    store.clear_result(job_id);
    return approved.size();
}

}  // namespace jobgraph
