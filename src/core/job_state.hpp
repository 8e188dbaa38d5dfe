#pragma once
// One job's rules as a single-threaded state machine: its records with their statuses and
// histories, the graph changes that follow a task's end, the checks and insertion of spawned
// batches, stopping, deadlock, restoring stored records, and the result. It has no threads,
// no I/O and no clock of its own: every change is given the time it happens at. The scheduler
// (run/job_execution.hpp) calls it under the job's lock; unit tests drive it directly.

#include "core/handler_outcome.hpp"
#include "core/ready_queue.hpp"
#include "graph/task_graph.hpp"
#include "spec/prepared_job.hpp"

#include "jobgraph/observer.hpp"
#include "jobgraph/registry.hpp"
#include "jobgraph/result.hpp"
#include "jobgraph/task_record.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace jobgraph::detail {

/// What the job's sinks are told after each batch of changes, in the order it was recorded.
using JobEvent = std::variant<TaskEvent, SpawnEvent>;

/// The changes since the last take_changes(): the records to save and the events to deliver.
struct ChangeLog {
    std::vector<TaskGraph::Index> tasks;  // changed records, in the order they first changed
    std::vector<JobEvent> events;         // filled only when the job records events

    bool empty() const noexcept { return tasks.empty() && events.empty(); }
    void clear() noexcept {
        tasks.clear();
        events.clear();
    }
};

struct JobStateOptions {
    bool check_cycles = true;    // off only to test the deadlock layer
    bool record_events = false;  // an observer watches: keep TaskEvent/SpawnEvent
    bool track_changes = false;  // a store keeps the job: list changed records
};

class JobState {
public:
    using Index = TaskGraph::Index;
    enum class StopCause { none, failure, timeout, deadlock, store };

    /// A task handed to a worker: its record stays where it is for the whole run.
    struct Started {
        Index task;
        const TaskRecord* record;
        const HandlerEntry* handler;
    };

    /// The job's initial tasks, all pending at @p now. @p restored: the records of an earlier
    /// run of this job, in creation order (empty for a new job); finished tasks keep their
    /// outcome, tasks that had started run again. Throws StoreError if they do not fit the job.
    JobState(const HandlerRegistry& registry, PreparedJob job, JobStateOptions options, Timestamp now,
             std::vector<TaskRecord> restored = {});

    JobState(const JobState&) = delete;
    JobState& operator=(const JobState&) = delete;

    /// Makes the tasks with no waits ready. Call once, before the first start_next().
    void begin();

    bool has_ready() const noexcept { return !ready_.empty(); }
    std::size_t ready_count() const noexcept { return ready_.size(); }
    /// Starts the next ready task (creation order first), or returns nullopt if none is ready.
    std::optional<Started> start_next(Timestamp now);
    /// Ends a started task with what its handler came to. @p ended_at times a success (when the
    /// handler returned); anything else is timed @p now, as it is recorded.
    void finish(Index task, HandlerOutcome&& outcome, Timestamp ended_at, Timestamp now);
    /// The job's time ran out after @p elapsed: nothing more starts, and the run ends once the
    /// running tasks have.
    void time_out(std::chrono::milliseconds elapsed, Timestamp now);
    /// The store could not keep the job: it stops as after a failure, with this error.
    void fail_store(const std::string& error, Timestamp now);

    /// Nothing is left to run or wait for.
    bool done() const noexcept { return done_; }
    /// True once after the job started to stop: running handlers must be asked to stop.
    bool take_stop_signal() noexcept { return std::exchange(stop_signal_due_, false); }
    StopCause stop_cause() const noexcept { return stop_cause_; }
    std::size_t in_flight() const noexcept { return in_flight_; }

    /// The output of a task that has succeeded; nullopt for any other or an unknown id.
    std::optional<nlohmann::json> output_of(std::string_view task_id) const;

    std::size_t size() const noexcept { return records_.size(); }
    const TaskRecord& record(Index task) const { return records_[task]; }
    const std::string& name() const noexcept { return name_; }

    /// Moves the changes recorded since the last call into @p into (which is cleared first).
    void take_changes(ChangeLog& into);

    /// Puts every record back as the store last saved it, after the store failed: the first
    /// saved_history.size() records keep that many history entries each; later ones are dropped.
    /// What a result then reports is what the store holds.
    void rewind_to(const std::vector<std::size_t>& saved_history);

    /// The job's result; the records move into it. Call once, after done().
    JobResult take_result(Timestamp completed_at, double wall_ms);

private:
    void add_record(TaskRecord&& record, const HandlerEntry* handler, Timestamp pending_at);
    void restore(std::vector<TaskRecord> restored, const std::vector<const HandlerEntry*>& root_handlers, Timestamp now);
    void set_status(Index task, TaskStatus status, std::string reason, Timestamp at);
    void end_unstarted(Index task, TaskStatus status, std::string reason, Timestamp at);
    std::optional<std::string> check_batch(Index parent, const HandlerOutcome& outcome) const;
    void add_children(Index parent, HandlerOutcome& outcome, TaskGraph::Changes& changes);
    void apply(TaskGraph::Changes& changes, Timestamp now);
    void stop(StopCause cause, const std::string& reason, Timestamp now);
    void check_end(Timestamp now);
    void note_changed(Index task);

    const HandlerRegistry& registry_;
    const std::string name_;
    const JobLimits limits_;
    const bool abort_on_failure_;
    const JobStateOptions options_;
    const Timestamp started_at_;

    TaskGraph graph_;
    // A deque never moves its elements: a running handler reads its record in place while
    // spawned tasks are added behind it.
    std::deque<TaskRecord> records_;
    std::vector<const HandlerEntry*> handlers_;  // by index
    std::vector<std::uint64_t> start_order_;     // by index; 0: not started in this run
    std::uint64_t next_start_ = 1;
    ReadyQueue ready_;
    TaskGraph::Changes scratch_;  // reused by finish(): apply() leaves it empty
    std::size_t in_flight_ = 0;
    std::size_t succeeded_ = 0;
    StopCause stop_cause_ = StopCause::none;
    bool stop_signal_due_ = false;
    bool done_ = false;
    std::optional<std::string> job_error_;

    ChangeLog log_;
    std::vector<bool> logged_;  // by index: already in log_.tasks
};

}  // namespace jobgraph::detail
