#pragma once
// One job's rules as a single-threaded state machine: its records with their statuses and
// histories, the graph changes that follow a task's end, the checks and insertion of spawned
// batches, stopping, deadlock, restoring stored records, and the result. It has no threads,
// no I/O and no clock of its own: every change is given the time it happens at. The scheduler
// (run/job_execution.hpp) calls it under the job's lock; unit tests drive it directly.

#include "core/handler_outcome.hpp"
#include "core/ready_tasks.hpp"
#include "core/task_records.hpp"
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
#include <random>
#include <set>
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
    std::uint64_t jitter_seed = 0;          // seeds the retry jitter; 0 draws one
    SharedSlots* shared_slots = nullptr;    // handler limits shared across jobs, if any
};

class JobState {
public:
    using Index = TaskGraph::Index;
    enum class StopCause { none, failure, timeout, deadlock, store, cancel, interrupt };

    /// A task handed to a worker: its record stays where it is for the whole run.
    struct Started {
        Index task;
        const TaskRecord* record;
        const HandlerEntry* handler;
        int attempt;  // 1 for the first call of the task's handler
    };
    /// A handler call that has not returned.
    struct OpenCall {
        Index task;
        int attempt;
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

    /// Some task is ready; it may still be held back by a concurrency limit.
    bool has_ready() const noexcept { return !ready_.empty(); }
    /// Starts the ready task that goes first (highest priority, then creation order) among
    /// those the concurrency limits let start, or returns nullopt if there is none.
    std::optional<Started> start_next(Timestamp now);
    /// Records what attempt @p attempt of a task's handler came to, when its call returned.
    /// @p ended_at times a success (when the handler returned); anything else is timed @p now.
    /// An attempt that already ended (timed out, given up on) only frees what its call held.
    void finish(Index task, int attempt, HandlerOutcome&& outcome, Timestamp ended_at, Timestamp now);
    /// The attempt ran out of its task's time: it fails ("Task timeout: ..."), and may be
    /// retried once its call has returned. Does nothing if the attempt already ended.
    void time_out_attempt(Index task, int attempt, Timestamp now);
    /// Stops waiting for an asynchronous call that did not come back after a stop: the attempt,
    /// if still on, ends `aborted` with @p reason, and a late completion is ignored.
    void abandon_call(Index task, int attempt, const std::string& reason, Timestamp now);
    /// A task started for a worker whose handler was not called before the job began to stop:
    /// it is not called. Interrupted, it goes back to pending; else it ends aborted with the
    /// stop's reason. Its start still counts as an attempt.
    void withdraw(Index task, int attempt, Timestamp now);
    /// Calls of asynchronous handlers that have not come back.
    std::vector<OpenCall> open_async_calls() const;
    bool async_call_open(Index task, int attempt) const noexcept {
        return call_open_[task] && records_[task].attempts == attempt && handlers_[task]->is_async();
    }
    /// When the earliest retry falls due (whose task's last call has returned), if any.
    std::optional<Timestamp> next_retry_due() const;
    /// Makes the retries due by @p now ready.
    void start_due_retries(Timestamp now);
    /// The job's time ran out after @p elapsed: nothing more starts, and the run ends once the
    /// running tasks have.
    void time_out(std::chrono::milliseconds elapsed, Timestamp now);
    /// Cancelled from outside (final): every task not finished ends aborted.
    void cancel(const std::string& reason, Timestamp now);
    /// Interrupted from outside (resumable): nothing more starts; tasks not started stay as
    /// they are, running ones that give up go back to pending.
    void interrupt(Timestamp now);
    /// The store could not keep the job: it stops as after a failure, with this error.
    void fail_store(const std::string& error, Timestamp now);

    /// Nothing is left to run or wait for.
    bool done() const noexcept { return done_; }
    /// True once after the job started to stop: running handlers must be asked to stop.
    bool take_stop_signal() noexcept { return std::exchange(stop_signal_due_, false); }
    StopCause stop_cause() const noexcept { return stop_cause_; }
    bool stopping() const noexcept { return stop_cause_ != StopCause::none; }
    /// Attempts under way (started, not ended).
    std::size_t in_flight() const noexcept { return in_flight_; }

    /// The output of a task that has succeeded; nullopt for any other or an unknown id.
    std::optional<nlohmann::json> output_of(std::string_view task_id) const;

    std::size_t size() const noexcept { return records_.size(); }
    const TaskRecord& record(Index task) const { return records_[task]; }
    const std::string& name() const noexcept { return name_; }

    bool has_changes() const noexcept { return !log_.empty(); }
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
    void end_attempt(Index task, HandlerOutcome&& outcome, Timestamp ended_at, Timestamp now, bool gave_up_in_time);
    void schedule_retry(Index task, const std::string& error, Timestamp now);
    void close_call(Index task, Timestamp now);
    void make_ready(Index task);
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
    const TaskDefaults task_defaults_;
    const JobStateOptions options_;
    const Timestamp started_at_;

    TaskGraph graph_;
    TaskRecords records_;  // by index; never move while the job runs
    std::vector<const HandlerEntry*> handlers_;  // by index
    std::vector<std::uint64_t> start_order_;     // by index; 0: not started in this run
    std::vector<ReadyTasks::Group> group_;       // by index: the limits that cover it
    std::vector<char> call_open_;                // by index: its handler call has not returned
    std::uint64_t next_start_ = 1;
    ReadyTasks ready_;
    std::set<std::pair<Timestamp, Index>> retries_;  // retrying tasks by due time
    std::mt19937_64 jitter_;
    TaskGraph::Changes scratch_;  // reused by finish(): apply() leaves it empty
    std::size_t in_flight_ = 0;
    std::size_t open_calls_ = 0;
    std::string stop_reason_;
    std::size_t succeeded_ = 0;
    StopCause stop_cause_ = StopCause::none;
    bool stop_signal_due_ = false;
    bool done_ = false;
    std::optional<std::string> job_error_;

    ChangeLog log_;
    std::vector<bool> logged_;  // by index: already in log_.tasks
};

}  // namespace jobgraph::detail
