#include "run/job_execution.hpp"

#include "run/handler_call.hpp"
#include "run/spin_wait.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace jobgraph::detail {
namespace {

using Clock = std::chrono::steady_clock;

// With a store every hold that starts tasks costs a commit, so a worker takes a share of the
// ready tasks, up to this many, whose starts then share one commit; idle workers take them
// from its queue if its handlers turn out slow.
constexpr std::size_t most_started_together = 8;

// How long an end with nothing to start may wait for the next start's commit before the clock
// keeper commits it alone: long enough to share a commit in a busy job, short enough that a
// crash while long tasks run loses next to nothing.
constexpr std::chrono::milliseconds deferred_commit_limit{20};

// The deadline @p timeout after @p start, or nullopt when there is none or the clock cannot hold
// it (about 292 years): such a limit means no limit.
std::optional<Clock::time_point> deadline_after(Clock::time_point start, std::chrono::milliseconds timeout) {
    if (timeout.count() <= 0) return std::nullopt;
    const auto room = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - start);
    if (timeout >= room) return std::nullopt;
    return start + timeout;
}

// A UTC due time as a moment of the steady clock the waits use.
Clock::time_point steady_time_of(Timestamp due) {
    const auto ahead = due - now_utc();
    return Clock::now() + std::max(ahead, decltype(ahead)::zero());
}

}  // namespace

JobExecution::JobExecution(const HandlerRegistry& registry, PreparedJob job, ExecutionSettings settings,
                           std::vector<TaskRecord> restored)
    : registry_(registry),
      limits_(job.spec.limits),
      plan_mode_(job.spec.require_approval),
      task_defaults_(job.spec.task_defaults),
      grace_period_(settings.grace_period),
      handler_slots_(settings.handler_slots),
      slots_for_job_(*this),
      control_(std::move(settings.control)),
      lease_store_(settings.lease ? settings.store : nullptr),
      lease_(std::move(settings.lease)),
      lease_duration_(settings.lease_duration),
      heartbeat_(settings.heartbeat),
      spin_before_sleep_(settings.spin_before_sleep),
      job_id_(settings.job_id),
      state_(registry, std::move(job),
             JobStateOptions{.check_cycles = settings.check_cycles,
                             .record_events = settings.observer != nullptr,
                             .track_changes = settings.store != nullptr,
                             .jitter_seed = settings.jitter_seed,
                             .shared_slots = settings.handler_slots ? &slots_for_job_ : nullptr},
             now_utc(), std::move(restored)) {
    if (settings.store) store_.emplace(*settings.store, std::move(settings.job_id), std::move(settings.saved_history));
    if (settings.observer) observer_.emplace(*settings.observer);
}

JobResult JobExecution::execute(WorkerPool& pool, std::size_t workers) {
    started_steady_ = Clock::now();
    // Set up before anything can reach the run: a stop request may come from another thread.
    workers_ = std::make_unique<Worker[]>(workers);
    worker_count_ = workers;
    idle_.reserve(workers);
    if (observer_) observer_->job_started(state_.name(), state_.size());
    AfterUnlock after;
    {
        const std::lock_guard lock(mutex_);
        state_.begin();
        publish(after, /*commit_now=*/true);  // the job's tasks are kept before any of them starts
        job_deadline_ = deadline_after(started_steady_, limits_.timeout);
        if (lease_store_) next_heartbeat_ = started_steady_ + heartbeat_;
    }
    after_unlock(after);
    // A stop requested before now is delivered here, before any task starts.
    if (control_) control_->attach([this](const StopRequest& request) { on_stop_request(request); });

    {
        WorkerPool::Crew crew;
        // The workers use this run: on every way out of this block they are done with it first.
        struct WaitAtExit {
            WorkerPool& pool;
            WorkerPool::Crew& crew;
            ~WaitAtExit() { pool.wait(crew); }
        } wait_at_exit{pool, crew};
        for (std::size_t i = 0; i < workers; ++i) pool.run(crew, [this, i] { worker_loop(i); });

        std::unique_lock lock(mutex_);
        keep_time(lock);
    }  // waits for the workers
    if (control_) control_->detach();

    JobResult result;
    {
        // Completions that come now change nothing: the job is done.
        const std::lock_guard lock(mutex_);
        if (store_ && store_->failed()) state_.rewind_to(store_->saved_history());
        const double wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - started_steady_).count();
        result = state_.take_result(now_utc(), wall_ms);
    }
    if (store_ && !store_->failed()) {
        try {
            store_->save_result(result);
        } catch (const std::exception& error) {
            result.status = JobStatus::failed;
            result.error_message = fmt::format("Store failed: {}", error.what());
            result.history.back() = JobHistoryEntry{JobStatus::failed, result.completed_at, *result.error_message};
        }
    }
    if (observer_) observer_->job_finished(result);
    return result;
}

// --- the clock keeper ------------------------------------------------------------------------

void JobExecution::keep_time(std::unique_lock<std::mutex>& lock) {
    AfterUnlock after;
    while (!state_.done()) {
        keeper_wakes_at_ = next_due();
        timers_changed_ = false;
        const auto woken = [this] { return state_.done() || timers_changed_; };
        if (keeper_wakes_at_ == SteadyTime::max()) {
            job_done_.wait(lock, woken);
        } else {
            job_done_.wait_until(lock, keeper_wakes_at_, woken);
        }
        keeper_wakes_at_ = SteadyTime::min();  // awake: nobody needs to wake it
        if (state_.done()) break;
        fire_due(after);
        if (next_heartbeat_ && Clock::now() >= *next_heartbeat_) renew_lease(lock, after);
        lock.unlock();
        after_unlock(after);
        lock.lock();
    }
}

JobExecution::SteadyTime JobExecution::next_due() const {
    SteadyTime due = SteadyTime::max();
    if (job_deadline_) due = std::min(due, *job_deadline_);
    if (!attempt_timers_.empty()) due = std::min(due, attempt_timers_.top().at);
    if (grace_ends_) due = std::min(due, *grace_ends_);
    if (next_heartbeat_) due = std::min(due, *next_heartbeat_);
    if (flush_due_) due = std::min(due, *flush_due_);
    if (const auto retry = state_.next_retry_due()) due = std::min(due, steady_time_of(*retry));
    return due;
}

void JobExecution::fire_due(AfterUnlock& after) {
    const SteadyTime now = Clock::now();
    if (job_deadline_ && now >= *job_deadline_) {
        job_deadline_.reset();
        state_.time_out(std::chrono::duration_cast<std::chrono::milliseconds>(now - started_steady_), now_utc());
    }
    while (!attempt_timers_.empty() && attempt_timers_.top().at <= now) {
        const AttemptTimer timer = attempt_timers_.top();
        attempt_timers_.pop();
        if (timer.grace) {
            state_.abandon_call(timer.task, timer.attempt,
                                fmt::format("Did not stop within {} ms", grace_period_.count()), now_utc());
            continue;
        }
        state_.time_out_attempt(timer.task, timer.attempt, now_utc());
        if (const auto source = attempt_stops_.find(timer.task); source != attempt_stops_.end()) {
            after.stop_attempts.push_back(source->second);
            // An asynchronous call holds no thread: after the grace period it is given up on.
            if (state_.async_call_open(timer.task, timer.attempt)) {
                attempt_timers_.push(AttemptTimer{now + grace_period_, timer.task, timer.attempt, true});
            }
        }
    }
    if (grace_ends_ && now >= *grace_ends_) {
        grace_ends_ = SteadyTime::max();  // once
        const std::string reason = fmt::format("Did not stop within {} ms", grace_period_.count());
        for (const auto& call : state_.open_async_calls()) state_.abandon_call(call.task, call.attempt, reason, now_utc());
    }
    state_.start_due_retries(now_utc());
    hand_out(std::nullopt, after);
    publish(after, /*commit_now=*/true);
}

void JobExecution::renew_lease(std::unique_lock<std::mutex>& lock, AfterUnlock& after) {
    next_heartbeat_ = Clock::now() + heartbeat_;
    lock.unlock();
    std::optional<LeaseRenewal> renewal;
    try {
        renewal = lease_store_->renew_lease(job_id_, *lease_, lease_duration_);
    } catch (const std::exception&) {
        // A store that fails for a moment: the next heartbeat tries again, well within the lease.
    }
    lock.lock();
    if (!renewal) return;
    if (!renewal->held) {
        // Another process took the job over: nothing more of this run may reach the store.
        if (store_) store_->fail("the job's lease was taken over by another process");
        state_.fail_store("the job's lease was taken over by another process", now_utc());
    } else if (renewal->cancel_reason) {
        state_.cancel(*renewal->cancel_reason, now_utc());
    }
    publish(after, /*commit_now=*/true);
}

void JobExecution::timers_changed(SteadyTime due) {
    if (due >= keeper_wakes_at_) return;  // it is awake, or wakes before then anyway
    timers_changed_ = true;
    job_done_.notify_all();
}

void JobExecution::on_stop_request(const StopRequest& request) {
    AfterUnlock after;
    {
        const std::lock_guard lock(mutex_);
        if (request.kind == StopRequest::Kind::cancel) {
            state_.cancel(request.reason, now_utc());
        } else {
            state_.interrupt(now_utc());
        }
        publish(after, /*commit_now=*/true);
    }
    after_unlock(after);
}

// --- workers ---------------------------------------------------------------------------------

void JobExecution::worker_loop(std::size_t self) {
    Worker& me = workers_[self];
    // One token per worker: each copy counts a reference on the state every worker shares.
    const std::stop_token stop = stop_source_.get_token();
    AfterUnlock after;
    std::optional<Finished> finished;
    std::unique_lock lock(mutex_);
    for (;;) {
        // One hold records what the last handler came to, starts this worker's next task and
        // those of idle workers, and commits all of it at once.
        if (finished) {
            call_returned(finished->task);
            state_.finish(finished->task, finished->attempt, std::move(finished->outcome), finished->ended_at,
                          now_utc());
            finished.reset();
        }
        hand_out(self, after);
        publish(after);
        if (me.queue.empty()) steal_into(self);
        if (!me.queue.empty()) {
            Queued next = std::move(me.queue.front());
            me.queue.pop_front();
            if (state_.stopping() && state_.stop_cause() != JobState::StopCause::store) {
                // Started with others under one commit, but the job stopped before its turn. (After
                // a store failure a committed start is called as before: the store can no longer
                // record that it was withdrawn.)
                state_.withdraw(next.task.task, next.task.attempt, now_utc());
                publish(after);
                continue;
            }
            arm_deadline(next);
            lock.unlock();
            after_unlock(after);
            finished = run_task(next, stop);
            lock_job(lock);
            continue;
        }
        if (state_.done()) break;
        me.idle = true;
        me.woken.store(false, std::memory_order_relaxed);
        idle_.push_back(self);
        lock.unlock();
        after_unlock(after);
        // A task usually comes within moments: poll for it before sleeping.
        spin_until([&] { return me.woken.load(std::memory_order_acquire) || done_.load(std::memory_order_acquire); },
                   spin_before_sleep_);
        lock_job(lock);
        // Once given a task it looks again: that task may have been taken by a worker that
        // came free first.
        me.wake.wait(lock, [&] { return !me.idle || state_.done(); });
    }
    lock.unlock();
    after_unlock(after);
}

std::optional<JobExecution::Finished> JobExecution::run_task(const Queued& queued, const std::stop_token& job_stop) {
    const JobState::Started& task = queued.task;
    const HandlerEntry& entry = *task.handler;
    if (!queued.durable) {
        // A handler runs only once its start is committed, as a crashed process would not run it.
        return Finished{task.task, task.attempt, HandlerOutcome::abort("Job stopped: the store failed"), now_utc()};
    }
    const std::stop_token& stop = queued.stop.stop_possible() ? queued.stop : job_stop;
    if (entry.is_async()) {
        start_async_handler(shared_from_this(), task.task, task.attempt, *task.record, entry, stop);
        return std::nullopt;  // its completion ends the task, now or later
    }
    const CallContext context{
        limits_, *this, OutcomeContext{task.record->id, task.record->depth, registry_, plan_mode_, task_defaults_}};
    HandlerOutcome outcome = call_handler(*task.record, entry, stop, context);
    return Finished{task.task, task.attempt, std::move(outcome), now_utc()};
}

void JobExecution::complete(Index task, int attempt, HandlerOutcome outcome) {
    const Timestamp ended_at = now_utc();
    AfterUnlock after;
    {
        const std::lock_guard lock(mutex_);
        if (state_.done()) return;
        call_returned(task);
        state_.finish(task, attempt, std::move(outcome), ended_at, now_utc());
        hand_out(std::nullopt, after);
        publish(after);
    }
    after_unlock(after);
}

void JobExecution::poke() {
    AfterUnlock after;
    {
        const std::lock_guard lock(mutex_);
        if (state_.done()) return;
        hand_out(std::nullopt, after);
        publish(after);
    }
    after_unlock(after);
}

void JobExecution::arm_deadline(Queued& queued) {
    // From the call, not from the start: a task queued behind others under one commit does not
    // spend its time waiting.
    const auto timeout = queued.task.record->timeout;
    if (timeout.count() <= 0) return;
    const auto deadline = deadline_after(Clock::now(), timeout);
    if (!deadline) return;
    std::stop_source source;
    queued.stop = source.get_token();
    attempt_stops_.insert_or_assign(queued.task.task, std::move(source));
    attempt_timers_.push(AttemptTimer{*deadline, queued.task.task, queued.task.attempt, false});
    timers_changed(*deadline);
}

void JobExecution::call_returned(Index task) {
    if (!attempt_stops_.empty()) attempt_stops_.erase(task);
}

void JobExecution::hand_out(std::optional<std::size_t> self, AfterUnlock& after) {
    if (!state_.has_ready()) return;
    // One reading of the clock starts every task given out together. It follows the recording:
    // a task started here cannot seem to start before a dependency ended.
    const Timestamp now = now_utc();
    const auto give = [&](std::size_t worker, const JobState::Started& started) {
        workers_[worker].queue.push_back(Queued{started});
        if (after.given.empty() || after.given.back() != worker) after.given.push_back(worker);
    };
    if (self && workers_[*self].queue.empty()) {
        if (const auto started = state_.start_next(now)) give(*self, *started);
    }
    while (!idle_.empty()) {
        const auto started = state_.start_next(now);
        if (!started) break;
        const std::size_t worker = idle_.back();
        idle_.pop_back();
        wake_worker(worker, after);
        give(worker, *started);
        after.wake.push_back(worker);
    }
    if (self && store_) {
        for (std::size_t i = 1; i < most_started_together; ++i) {
            const auto started = state_.start_next(now);
            if (!started) break;
            give(*self, *started);
        }
    }
}

void JobExecution::lock_job(std::unique_lock<std::mutex>& lock) {
    if (!spin_until([&] { return lock.try_lock(); }, spin_before_sleep_)) lock.lock();
}

void JobExecution::wake_worker(std::size_t worker, AfterUnlock& after) {
    workers_[worker].idle = false;
    workers_[worker].woken.store(true, std::memory_order_release);
    after.wake.push_back(worker);
}

void JobExecution::steal_into(std::size_t self) {
    Worker* busiest = nullptr;
    for (std::size_t i = 0; i < worker_count_; ++i) {
        if (i != self && (!busiest || workers_[i].queue.size() > busiest->queue.size())) busiest = &workers_[i];
    }
    if (!busiest || busiest->queue.empty()) return;
    workers_[self].queue.push_back(std::move(busiest->queue.back()));
    busiest->queue.pop_back();
}

void JobExecution::publish(AfterUnlock& after, bool commit_now) {
    // With a store, what a hold recorded without starting anything waits for the next commit:
    // nothing can depend on it before a task starts, and that start's commit carries it along.
    // Its events wait with it, so nothing is reported before it is committed.
    const bool defer = store_ && !commit_now && after.given.empty() && !state_.done();
    if (defer && !flush_due_ && state_.has_changes()) {
        // Carried by the next start, or by the clock keeper if none comes soon.
        flush_due_ = Clock::now() + deferred_commit_limit;
        timers_changed(*flush_due_);
    }
    if (!defer) {
        flush_due_.reset();
        state_.take_changes(changes_);
        const bool durable = !store_ || store_->save(state_, changes_);
        if (!durable) {
            if (state_.stop_cause() != JobState::StopCause::store) state_.fail_store(*store_->error(), now_utc());
            state_.take_changes(changes_);  // what follows a failure never reaches the store either
            changes_.clear();
        }
        for (const std::size_t worker : after.given) {
            for (Queued& queued : workers_[worker].queue) {
                if (queued.committed) continue;
                queued.committed = true;
                queued.durable = durable;
            }
        }
        after.given.clear();
        if (observer_) observer_->queue(changes_.events);
    }
    if (state_.take_stop_signal()) {
        after.request_stop = true;
        for (const auto& [task, source] : attempt_stops_) after.stop_attempts.push_back(source);
        if (!grace_ends_) {
            grace_ends_ = deadline_after(Clock::now(), grace_period_).value_or(SteadyTime::max());
            timers_changed(*grace_ends_);
        }
    }
    if (!to_poke_.empty()) {
        after.poke.insert(after.poke.end(), std::make_move_iterator(to_poke_.begin()),
                          std::make_move_iterator(to_poke_.end()));
        to_poke_.clear();
    }
    if (const auto retry = state_.next_retry_due()) timers_changed(steady_time_of(*retry));
    if (state_.done()) {
        done_.store(true, std::memory_order_release);
        for (const std::size_t worker : idle_) wake_worker(worker, after);
        idle_.clear();
        job_done_.notify_all();
    }
}

void JobExecution::after_unlock(AfterUnlock& after) {
    for (const std::size_t worker : after.wake) workers_[worker].wake.notify_one();
    after.wake.clear();
    if (std::exchange(after.request_stop, false)) stop_source_.request_stop();
    for (std::stop_source& source : after.stop_attempts) source.request_stop();
    after.stop_attempts.clear();
    for (const auto& waiter : after.poke) {
        if (const auto run = waiter.lock(); run && run.get() != this) run->poke();
    }
    after.poke.clear();
    if (observer_) observer_->deliver();
}

bool JobExecution::SlotsForJob::try_take(const HandlerEntry& handler) {
    return run_.handler_slots_->try_take(handler, run_.weak_from_this());
}

void JobExecution::SlotsForJob::give_back(const HandlerEntry& handler) {
    run_.handler_slots_->give_back(handler, run_.to_poke_);
}

std::optional<nlohmann::json> JobExecution::output_of(std::string_view task_id) const {
    const std::lock_guard lock(mutex_);
    return state_.output_of(task_id);
}

}  // namespace jobgraph::detail
