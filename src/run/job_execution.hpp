#pragma once
// The scheduler of one run: the only code that knows the job's lock, the worker threads and
// how they wait. Everything the job decides is JobState's; what a run puts out goes to its
// sinks (the store, the observer); handlers are called by run/handler_call.hpp.
//
// The lock protocol: a thread takes the job's lock to record what a handler came to, to start
// the next ready tasks (its own and those of idle workers, so that starts given out together
// share one commit), and to commit the batch to the store. After releasing it, it wakes the
// workers it gave tasks to, asks running handlers to stop if the job began to stop, and
// delivers observer events. Handlers and observers never run under the lock.
//
// The thread that called execute() keeps the run's clock: the job's deadline, each attempt's
// deadline, retries falling due, the grace period of a stopping job, and with a store the
// lease's heartbeat. It holds no worker: timers and limits never take a thread from tasks.

#include "core/job_state.hpp"
#include "run/handler_slots.hpp"
#include "run/output_source.hpp"
#include "run/run_control_state.hpp"
#include "run/worker_pool.hpp"
#include "sinks/observer_sink.hpp"
#include "sinks/store_sink.hpp"

#include "jobgraph/observer.hpp"
#include "jobgraph/registry.hpp"
#include "jobgraph/result.hpp"
#include "jobgraph/store.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <map>
#include <optional>
#include <queue>
#include <stop_token>
#include <string>
#include <vector>

namespace jobgraph::detail {

struct ExecutionSettings {
    bool check_cycles = true;
    JobObserver* observer = nullptr;
    JobStore* store = nullptr;  // with a store, every change is committed before it is reported
    std::string job_id{};       // the job's id in the store
    std::vector<std::size_t> saved_history{};  // what the store holds of each task (see StoreSink)
    std::shared_ptr<RunControlState> control{};  // stops the run from outside; may be null
    HandlerSlots* handler_slots = nullptr;       // the orchestrator's handler limits
    std::chrono::milliseconds grace_period{5000};
    std::uint64_t jitter_seed = 0;
    // With a store: the run's hold on the job, renewed every heartbeat.
    std::optional<LeaseHolder> lease{};
    std::chrono::milliseconds lease_duration{15000};
    std::chrono::milliseconds heartbeat{500};
    // How long a worker polls for the job's lock, or for a task while idle, before it sleeps.
    std::chrono::microseconds spin_before_sleep{100};
};

class JobExecution final : public OutputSource, public std::enable_shared_from_this<JobExecution> {
public:
    using Index = JobState::Index;

    /// @p restored: the records of an earlier run of this job (see JobState).
    JobExecution(const HandlerRegistry& registry, PreparedJob job, ExecutionSettings settings,
                 std::vector<TaskRecord> restored = {});

    /// Runs the job to its end on @p workers threads of @p pool and returns the result. Call once.
    JobResult execute(WorkerPool& pool, std::size_t workers);

    /// Ends attempt @p attempt of a task with what its handler came to; for asynchronous
    /// completions.
    void complete(Index task, int attempt, HandlerOutcome outcome);
    /// Another job gave back a handler slot this run waits for: start what can start now.
    void poke();

    std::optional<nlohmann::json> output_of(std::string_view task_id) const override;

    const HandlerRegistry& registry() const noexcept { return registry_; }
    const JobLimits& limits() const noexcept { return limits_; }
    bool plan_mode() const noexcept { return plan_mode_; }
    const TaskDefaults& task_defaults() const noexcept { return task_defaults_; }

private:
    // A task started for a worker whose handler it has not called yet.
    struct Queued {
        JobState::Started task;
        std::stop_token stop{};  // the attempt's own, if it has a deadline; else the job's is used
        bool committed = false;  // publish() has tried to commit its start
        bool durable = false;    // and the start reached the store (always, without one)
    };
    // One worker thread: the tasks started for it (by itself, or by another thread while it
    // was idle), called in order. Without a store it holds at most one.
    struct Worker {
        std::condition_variable wake;
        std::deque<Queued> queue;
        bool idle = false;  // in idle_: waits until another thread gives it a task or the job ends
        std::atomic<bool> woken{false};  // set with idle = false: ends its poll without the lock
    };
    // What to do once the lock is released.
    struct AfterUnlock {
        std::vector<std::size_t> given;  // workers given a task in this hold (publish() clears it)
        std::vector<std::size_t> wake;   // workers to wake
        bool request_stop = false;
        std::vector<std::stop_source> stop_attempts;       // attempts to ask to stop
        std::vector<std::weak_ptr<JobExecution>> poke;     // runs waiting for a handler slot
    };
    // What a synchronous handler came to, to be recorded in the worker's next hold.
    struct Finished {
        Index task;
        int attempt;
        HandlerOutcome outcome;
        Timestamp ended_at;
    };
    using SteadyTime = std::chrono::steady_clock::time_point;
    // An attempt's deadline, or the end of the grace given to an asynchronous call after it.
    struct AttemptTimer {
        SteadyTime at;
        Index task;
        int attempt;
        bool grace;  // false: the attempt's deadline
        bool operator>(const AttemptTimer& other) const { return at > other.at; }
    };
    // Lends the orchestrator's handler slots to JobState, remembering whom to wake.
    class SlotsForJob final : public SharedSlots {
    public:
        explicit SlotsForJob(JobExecution& run) : run_(run) {}
        bool try_take(const HandlerEntry& handler) override;
        void give_back(const HandlerEntry& handler) override;

    private:
        JobExecution& run_;
    };

    void worker_loop(std::size_t self);
    // Takes the job's lock, polling for it a moment first: holds are short, and a worker that
    // sleeps on the lock pays far more to be woken than the hold it waits for.
    void lock_job(std::unique_lock<std::mutex>& lock);
    // Under the lock: ends worker @p worker's idle wait.
    void wake_worker(std::size_t worker, AfterUnlock& after);
    // Under the lock: moves the newest queued task of the busiest other worker to @p self, so
    // that a task started in a batch never waits behind a slow one while a worker is free.
    void steal_into(std::size_t self);
    // Under the lock: starts ready tasks for worker @p self (if free) and for idle workers.
    void hand_out(std::optional<std::size_t> self, AfterUnlock& after);
    // Under the lock: commits the changes to the store (a failure stops the job and marks the
    // starts of this hold as not durable) and queues their events. A hold that starts nothing
    // leaves its changes to the next commit unless @p commit_now.
    void publish(AfterUnlock& after, bool commit_now = false);
    // Outside the lock: calls the handler. Nullopt for an asynchronous one, whose completion
    // ends the task.
    std::optional<Finished> run_task(const Queued& queued, const std::stop_token& job_stop);
    void after_unlock(AfterUnlock& after);
    // Under the lock, as its handler is about to be called: a task with a timeout gets its
    // deadline and a stop source of its own.
    void arm_deadline(Queued& queued);
    // Under the lock: forgets the attempt's stop source once its call came back.
    void call_returned(Index task);

    // The caller's thread, until the job is done: fires timers and renews the lease.
    void keep_time(std::unique_lock<std::mutex>& lock);
    // Under the lock: the earliest moment something is due.
    SteadyTime next_due() const;
    // Under the lock: acts on everything due by now.
    void fire_due(AfterUnlock& after);
    // Outside the lock: renews the lease; a cancel requested through the store cancels the job.
    void renew_lease(std::unique_lock<std::mutex>& lock, AfterUnlock& after);
    // Under the lock: something falls due at @p due; wakes the clock keeper if it sleeps longer.
    void timers_changed(SteadyTime due);
    void on_stop_request(const StopRequest& request);

    const HandlerRegistry& registry_;
    const JobLimits limits_;
    const bool plan_mode_;
    const TaskDefaults task_defaults_;
    const std::chrono::milliseconds grace_period_;
    HandlerSlots* const handler_slots_;
    SlotsForJob slots_for_job_;
    std::shared_ptr<RunControlState> control_;
    JobStore* const lease_store_;  // set when the run holds a lease
    const std::optional<LeaseHolder> lease_;
    const std::chrono::milliseconds lease_duration_;
    const std::chrono::milliseconds heartbeat_;
    const std::chrono::microseconds spin_before_sleep_;
    std::string job_id_;

    mutable std::mutex mutex_;
    std::condition_variable job_done_;
    JobState state_;
    std::optional<StoreSink> store_;
    std::optional<ObserverSink> observer_;
    ChangeLog changes_;  // publish()'s scratch
    std::unique_ptr<Worker[]> workers_;
    std::size_t worker_count_ = 0;
    std::vector<std::size_t> idle_;  // workers waiting for a task
    std::stop_source stop_source_;
    std::atomic<bool> done_{false};  // state_.done(), for workers polling without the lock
    std::chrono::steady_clock::time_point started_steady_{};

    // The clock keeper's: guarded by the lock.
    std::priority_queue<AttemptTimer, std::vector<AttemptTimer>, std::greater<>> attempt_timers_;
    std::map<Index, std::stop_source> attempt_stops_;  // attempts with a deadline whose call is on
    std::optional<SteadyTime> job_deadline_;
    std::optional<SteadyTime> grace_ends_;     // set once the job began to stop
    std::optional<SteadyTime> next_heartbeat_;
    std::optional<SteadyTime> flush_due_;      // a deferred commit waits at most until then
    SteadyTime keeper_wakes_at_ = SteadyTime::max();  // when the clock keeper looks next
    bool timers_changed_ = false;
    std::vector<std::weak_ptr<JobExecution>> to_poke_;  // filled by slots_for_job_ under the lock
};

}  // namespace jobgraph::detail
