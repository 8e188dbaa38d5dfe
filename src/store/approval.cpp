// Approval of planned work (docs/semantics.md): approved tasks go back to pending in the store
// and the next resume runs them; rejected ones, and whatever waits on them, end aborted.
#include "jobgraph/store.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <unordered_map>
#include <unordered_set>

namespace jobgraph {
namespace {

// The reason the engine gives a task without side effects that is planned only because it
// waits on planned work; such a task needs no approval of its own.
constexpr std::string_view planned_for_dependency = "Awaiting approval: a dependency is planned";
// How long the approval holds the job: long enough for one read and one write.
constexpr std::chrono::milliseconds approval_lease{30000};

// Releases the lease however the approval ends.
class HeldJob {
public:
    HeldJob(JobStore& store, std::string_view job_id)
        : store_(store), job_id_(job_id), holder_(LeaseHolder::for_this_process()) {
        store_.acquire_lease(job_id_, holder_, approval_lease);
    }
    ~HeldJob() {
        try {
            store_.release_lease(job_id_, holder_);
        } catch (...) {  // the lease then expires on its own
        }
    }
    HeldJob(const HeldJob&) = delete;
    HeldJob& operator=(const HeldJob&) = delete;

private:
    JobStore& store_;
    std::string job_id_;
    LeaseHolder holder_;
};

class Approval {
public:
    explicit Approval(StoredJob& job) : job_(job) {
        for (std::size_t i = 0; i < job_.tasks.size(); ++i) index_.emplace(job_.tasks[i].id, i);
    }

    // Every id that is not a planned task of the job, in the order given.
    std::vector<std::string> not_planned(const std::vector<std::string>& ids) const {
        std::vector<std::string> wrong;
        for (const auto& id : ids) {
            const auto found = index_.find(id);
            if (found == index_.end() || job_.tasks[found->second].status != TaskStatus::planned) wrong.push_back(id);
        }
        return wrong;
    }

    // The tasks @p task waits on: each declared dependency and, since a dependency is met only
    // once everything it spawned is, that dependency's descendants. A dependency on one of the
    // task's own ancestors adds no wait.
    std::vector<std::size_t> waits_of(std::size_t task) const {
        std::vector<std::size_t> waits;
        for (const auto& dependency : job_.tasks[task].depends_on) {
            const auto found = index_.find(dependency);
            if (found == index_.end() || is_ancestor(found->second, task)) continue;
            std::vector<std::size_t> pending{found->second};
            while (!pending.empty()) {
                const std::size_t next = pending.back();
                pending.pop_back();
                waits.push_back(next);
                for (const auto& child : job_.tasks[next].children) {
                    if (const auto c = index_.find(child); c != index_.end()) pending.push_back(c->second);
                }
            }
        }
        return waits;
    }

    std::size_t index_of(const std::string& id) const { return index_.at(id); }

private:
    bool is_ancestor(std::size_t candidate, std::size_t task) const {
        for (auto parent = job_.tasks[task].parent_id; parent;) {
            const auto found = index_.find(*parent);
            if (found == index_.end()) return false;
            if (found->second == candidate) return true;
            parent = job_.tasks[found->second].parent_id;
        }
        return false;
    }

    StoredJob& job_;
    std::unordered_map<std::string, std::size_t> index_;
};

// A planned task that needs an approval of its own (its handler has side effects).
bool waits_for_approval(const TaskRecord& task) {
    return task.status == TaskStatus::planned &&
           (task.history.empty() || task.history.back().reason != planned_for_dependency);
}

}  // namespace

std::size_t approve_planned(JobStore& store, std::string_view job_id) {
    return approve_planned(store, job_id, ApprovalDecision{});
}

std::size_t approve_planned(JobStore& store, std::string_view job_id, const ApprovalDecision& decision) {
    const HeldJob held(store, job_id);
    std::optional<StoredJob> job = store.load(job_id);
    if (!job) throw StoreError(fmt::format("No job {} in the store", job_id));
    Approval approval(*job);
    std::vector<std::string> named = decision.approve;
    named.insert(named.end(), decision.reject.begin(), decision.reject.end());
    if (const auto wrong = approval.not_planned(named); !wrong.empty()) {
        throw StoreError(fmt::format("Not planned tasks of job {}: {}", job_id, fmt::join(wrong, ", ")));
    }
    for (const auto& id : decision.reject) {
        if (std::find(decision.approve.begin(), decision.approve.end(), id) != decision.approve.end()) {
            throw StoreError(fmt::format("Task {} of job {} cannot be both approved and rejected", id, job_id));
        }
    }

    const Timestamp at = now_utc();
    const std::size_t count = job->tasks.size();
    std::vector<std::size_t> saved_history(count);
    for (std::size_t i = 0; i < count; ++i) saved_history[i] = job->tasks[i].history.size();
    const auto end_aborted = [&](std::size_t i, const std::string& reason) {
        TaskRecord& task = job->tasks[i];
        task.status = TaskStatus::aborted;
        task.output = nlohmann::json{{"error", reason}};
        task.next_attempt_at.reset();
        task.completed_at = at;
        task.history.push_back(HistoryEntry{TaskStatus::aborted, at, reason});
    };

    // Rejected tasks first, then everything unsettled that waits on them, until nothing changes.
    const std::string rejected_reason = decision.reason.empty() ? "Rejected" : "Rejected: " + decision.reason;
    for (const auto& id : decision.reject) end_aborted(approval.index_of(id), rejected_reason);
    std::vector<std::vector<std::size_t>> waits(count);
    for (std::size_t i = 0; i < count; ++i) waits[i] = approval.waits_of(i);
    if (!decision.reject.empty()) {
        for (bool changed = true; changed;) {
            changed = false;
            for (std::size_t i = 0; i < count; ++i) {
                if (is_final(job->tasks[i].status) && job->tasks[i].status != TaskStatus::planned) continue;
                if (job->tasks[i].status == TaskStatus::started) continue;
                for (const std::size_t wait : waits[i]) {
                    if (job->tasks[wait].status != TaskStatus::aborted &&
                        job->tasks[wait].status != TaskStatus::failed) {
                        continue;
                    }
                    // Only a change made here: work that failed before is the resumed run's to judge.
                    if (job->tasks[wait].history.size() == saved_history[wait]) continue;
                    end_aborted(i, fmt::format("Aborted: dependency {} failed", job->tasks[wait].id));
                    changed = true;
                    break;
                }
            }
        }
    }

    // Then the approved tasks: those named (all that need approval when none are), and those
    // planned only for planned work they wait on, once all of that is approved.
    std::vector<bool> approved(count, false);
    if (decision.approve.empty()) {
        for (std::size_t i = 0; i < count; ++i) approved[i] = job->tasks[i].status == TaskStatus::planned;
    } else {
        for (const auto& id : decision.approve) approved[approval.index_of(id)] = true;
    }
    for (bool changed = true; changed;) {
        changed = false;
        for (std::size_t i = 0; i < count; ++i) {
            const TaskRecord& task = job->tasks[i];
            if (approved[i] || task.status != TaskStatus::planned || waits_for_approval(task)) continue;
            const bool waits_only_on_approved = std::all_of(waits[i].begin(), waits[i].end(), [&](std::size_t w) {
                return job->tasks[w].status != TaskStatus::planned || approved[w];
            });
            if (waits_only_on_approved) approved[i] = changed = true;
        }
    }
    std::size_t approved_count = 0;
    for (std::size_t i = 0; i < count; ++i) {
        if (!approved[i] || job->tasks[i].status != TaskStatus::planned) continue;
        TaskRecord& task = job->tasks[i];
        task.status = TaskStatus::pending;
        task.completed_at.reset();
        task.history.push_back(HistoryEntry{TaskStatus::pending, at, "Approved"});
        ++approved_count;
    }

    std::vector<TaskWrite> writes;
    for (std::size_t i = 0; i < count; ++i) {
        if (job->tasks[i].history.size() != saved_history[i])
            writes.push_back(TaskWrite{i, &job->tasks[i], saved_history[i]});
    }
    if (writes.empty()) return 0;
    store.save_tasks(job_id, writes);
    store.clear_result(job_id);
    return approved_count;
}

}  // namespace jobgraph
