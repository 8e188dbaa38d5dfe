#pragma once
// One run of one job: its worker threads, its graph and records under one lock, its timeout
// and its observer events. The Orchestrator creates one per run() call.

#include "run/handler_outcome.hpp"
#include "spec/prepared_job.hpp"
#include "run/ready_queue.hpp"
#include "run/worker_threads.hpp"

#include "jobgraph/context.hpp"
#include "jobgraph/observer.hpp"
#include "jobgraph/registry.hpp"
#include "jobgraph/result.hpp"
#include "jobgraph/store.hpp"
#include "graph/task_graph.hpp"
#include "jobgraph/task_record.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace jobgraph::detail {

/// Lets a handler read the output of tasks that have succeeded, from any thread.
class OutputSource {
public:
    virtual std::optional<nlohmann::json> output_of(std::string_view task_id) const = 0;

protected:
    ~OutputSource() = default;
};

struct RunSettings {
    bool check_cycles = true;
    JobObserver* observer = nullptr;
    JobStore* store = nullptr;  // with a store, every change is committed before it is reported
    std::string job_id{};       // the job's id in the store
};

class JobRun final : public OutputSource, public std::enable_shared_from_this<JobRun> {
public:
    using Index = TaskGraph::Index;
    static_assert(std::is_same_v<Index, ReadyQueue::Index>, "the ready queue holds task indices as they are");

    /// @p restored: the records of an interrupted run of this job, in creation order (empty
    /// for a new job). Finished tasks keep their outcome; the rest run (again).
    JobRun(const HandlerRegistry& registry, PreparedJob job, RunSettings settings,
           std::vector<TaskRecord> restored = {});

    /// Runs the job to its end on @p workers and returns the result. Call once.
    JobResult execute(WorkerThreads& workers);

    /// Ends a started task with what its handler came to; for asynchronous completions.
    void complete(Index task, HandlerOutcome outcome);

    std::optional<nlohmann::json> output_of(std::string_view task_id) const override;

    /// Interprets a handler's returned result for @p task (outside the lock).
    HandlerOutcome interpret(std::string_view task_id, int depth, nlohmann::json result, SpawnBuffer spawned) const;

private:
    enum class StopCause { none, failure, timeout, deadlock };
    using Event = std::variant<TaskEvent, SpawnEvent>;
    static constexpr std::size_t cache_line = 64;

    // What one worker and the holder of the job's lock pass each other (see worker_loop). The
    // worker writes it while `state` is idle, the lock holder while it is posted or recorded.
    // A task counts as started when the lock holder gives it to a worker; that worker is then
    // waiting for it, spinning or, after a long wait for the lock, asleep on it.
    struct alignas(cache_line) WorkerSlot {
        enum State : std::uint8_t { idle, posted, recorded, answered };
        std::atomic<State> state{idle};
        // Answered: the worker's next task, started already, or none (it then waits for one).
        bool has_task = false;
        Index task = 0;
        const HandlerEntry* handler = nullptr;  // copied under the lock: spawning may move handlers_
        bool durable = false;                   // its start is committed (always, without a store)
        // While the records may move (see run_turn): the record, or a copy for an async handler.
        std::optional<TaskRecord> lent_record{};
        // Posted: what the handler came to and when, or nothing after an asynchronous start.
        bool has_outcome = false;
        HandlerOutcome outcome{};
        Timestamp ended_at{};  // read by the worker: the clock stays off the lock holder's path
        // The worker's own: turns left in which it does not wait for the last combiner, whom it
        // waited for in vain (see await_answer).
        int turns_without_waiting = 0;
    };

    void reserve_records(std::size_t initial);

    // Under the lock.
    // A batch of tasks, initial or spawned, becomes pending at one instant: pending_at.
    void add_record(TaskRecord&& record, const HandlerEntry* handler, Timestamp pending_at);
    void restore(std::vector<TaskRecord> restored, std::vector<const HandlerEntry*> root_handlers);
    void flush();
    void set_status(Index task, TaskStatus status, std::string reason = {}, Timestamp at = now_utc());
    void end_unstarted(Index task, TaskStatus status, std::string reason);
    bool begin_task(Index task, Timestamp started_at);  // false if the store failed to record the start
    // @p succeeded_at: when the handler came to its outcome, used if that is a success.
    void finish_task(Index task, HandlerOutcome&& outcome, Timestamp succeeded_at);
    std::optional<std::string> check_batch(Index parent, const HandlerOutcome& outcome) const;
    void add_children(Index parent, HandlerOutcome& outcome, TaskGraph::Changes& changes);
    void apply(TaskGraph::Changes& changes);
    void stop(StopCause cause, const std::string& reason);
    void check_end();
    // Combining: records every posted outcome, then gives each of those workers its next task.
    // Nothing here may throw: a worker would wait for an answer that never comes.
    void combine(WorkerSlot& self) noexcept;
    void record_posted(WorkerSlot& slot) noexcept;
    void answer_recorded(WorkerSlot& slot, Timestamp started_at) noexcept;
    void assign(WorkerSlot& slot, Timestamp started_at) noexcept;  // the next ready task, started, or none
    // With the lock held: wakes a sleeping worker if work is left, then unlocks and reports.
    void unlock_and_publish(std::unique_lock<std::mutex>& lock);

    // Outside the lock.
    void worker_loop(WorkerSlot& slot);
    void run_turn(WorkerSlot& slot, const std::stop_token& stop);
    // Waits until the worker's posted slot is answered. True if this worker combined instead:
    // it then holds the lock, and must unlock_and_publish.
    bool await_answer(std::unique_lock<std::mutex>& lock, WorkerSlot& slot);
    // A synchronous handler: its outcome, returned by value (no optional to move it through).
    HandlerOutcome call_handler(const TaskRecord& record, const HandlerEntry& entry, const std::stop_token& stop);
    // An asynchronous one: its Completion ends the task, during the call or later.
    void start_async_handler(Index task, const TaskRecord& record, const HandlerEntry& entry,
                             const std::stop_token& stop);
    void after_unlock(bool request_stop);
    void deliver_events();
    JobResult build_result();

    const HandlerRegistry& registry_;
    const std::string name_;
    const JobLimits limits_;
    const bool abort_on_failure_;
    const bool plan_mode_;
    const RunSettings settings_;
    JobStore* store_;  // settings_.store, until a write to it fails

    // The lock has a cache line to itself. A worker waiting for it retries try_lock (on x86, see
    // lock_soon and await_answer), and each try takes the lock's line from the holder: no field
    // the holder reads may share that line. work_ready_ is aligned only to end the lock's line.
    alignas(cache_line) mutable std::mutex mutex_;
    alignas(cache_line) std::condition_variable work_ready_;
    std::condition_variable job_done_;
    // Read by every worker once a turn and written only when another one combines.
    alignas(cache_line) std::atomic<WorkerSlot*> combiner_{nullptr};  // whose worker combined last
    std::unique_ptr<WorkerSlot[]> slots_;                             // one per worker, while they run
    std::size_t slot_count_ = 0;
    TaskGraph graph_;
    std::vector<TaskRecord> records_;  // by index
    bool records_stay_put_ = false;    // records_ has room for maxTasks records: it never moves
    std::vector<const HandlerEntry*> handlers_;
    std::vector<std::uint64_t> start_order_;  // 0: never started
    std::uint64_t next_start_ = 1;
    // Ready tasks start in creation order: the result, ordered by start, then needs few moves.
    ReadyQueue ready_;
    TaskGraph::Changes changes_;  // finish_task's scratch, kept to spare allocations per task
    std::size_t in_flight_ = 0;   // started and not finished, sync or async
    std::size_t idle_workers_ = 0;
    std::size_t succeeded_ = 0;
    StopCause stop_cause_ = StopCause::none;
    bool stop_signal_due_ = false;  // request_stop must run outside the lock (callbacks may lock)
    bool done_ = false;
    std::vector<Index> unsaved_;  // records changed since the last flush to the store
    std::optional<std::string> job_error_;
    std::stop_source stop_source_;

    std::mutex observer_mutex_;  // serialises observer calls; taken before mutex_, never inside it
    std::vector<Event> events_;

    Timestamp started_at_{};
    std::chrono::steady_clock::time_point started_steady_{};
};

/// Shared by the copies of one Completion; fails the task if none of them fulfils it.
class CompletionState {
public:
    CompletionState(std::shared_ptr<JobRun> run, JobRun::Index task, std::string task_id, int depth,
                    std::stop_token stop)
        : run_(std::move(run)), task_(task), task_id_(std::move(task_id)), depth_(depth), stop_(std::move(stop)) {}
    CompletionState(const CompletionState&) = delete;
    CompletionState& operator=(const CompletionState&) = delete;
    ~CompletionState();

    /// The first call wins; later ones return false and change nothing.
    bool succeed(nlohmann::json result);
    bool fail(std::string message);
    bool abort(std::string reason);

    const std::stop_token& stop_token() const noexcept { return stop_; }
    SpawnBuffer& spawned() noexcept { return spawned_; }

private:
    bool claim() noexcept { return !claimed_.exchange(true); }

    std::shared_ptr<JobRun> run_;
    JobRun::Index task_;
    std::string task_id_;
    int depth_;
    std::stop_token stop_;
    SpawnBuffer spawned_;
    std::atomic<bool> claimed_{false};
};

}  // namespace jobgraph::detail
