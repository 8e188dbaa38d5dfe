#include "run/job_execution.hpp"

#include "run/handler_call.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace jobgraph::detail {
namespace {

// With a store every hold that starts tasks costs a commit, so a worker takes a share of the
// ready tasks, up to this many, whose starts then share one commit; idle workers take them
// from its queue if its handlers turn out slow.
constexpr std::size_t most_started_together = 8;

// The deadline @p timeout after @p start, or nullopt when there is none or the clock cannot hold
// it (about 292 years): such a limit means no limit.
std::optional<std::chrono::steady_clock::time_point> deadline_after(std::chrono::steady_clock::time_point start,
                                                                    std::chrono::milliseconds timeout) {
    using Clock = std::chrono::steady_clock;
    if (timeout.count() <= 0) return std::nullopt;
    const auto room = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - start);
    if (timeout >= room) return std::nullopt;
    return start + timeout;
}

}  // namespace

JobExecution::JobExecution(const HandlerRegistry& registry, PreparedJob job, ExecutionSettings settings,
                           std::vector<TaskRecord> restored)
    : registry_(registry),
      limits_(job.spec.limits),
      plan_mode_(job.spec.require_approval),
      state_(registry, std::move(job),
             JobStateOptions{.check_cycles = settings.check_cycles,
                             .record_events = settings.observer != nullptr,
                             .track_changes = settings.store != nullptr},
             now_utc(), std::move(restored)) {
    if (settings.store) store_.emplace(*settings.store, std::move(settings.job_id), std::move(settings.saved_history));
    if (settings.observer) observer_.emplace(*settings.observer);
}

JobResult JobExecution::execute(WorkerPool& pool, std::size_t workers) {
    started_steady_ = std::chrono::steady_clock::now();
    if (observer_) observer_->job_started(state_.name(), state_.size());
    AfterUnlock after;
    {
        const std::lock_guard lock(mutex_);
        state_.begin();
        publish(after, /*commit_now=*/true);  // the job's tasks are kept before any of them starts
    }
    after_unlock(after);

    workers_ = std::make_unique<Worker[]>(workers);
    worker_count_ = workers;
    idle_.reserve(workers);
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
        if (const auto deadline = deadline_after(started_steady_, limits_.timeout)) {
            if (!job_done_.wait_until(lock, *deadline, [this] { return state_.done(); })) {
                const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - started_steady_);
                state_.time_out(elapsed, now_utc());
                publish(after);
                lock.unlock();
                after_unlock(after);
                lock.lock();
            }
        }
        job_done_.wait(lock, [this] { return state_.done(); });
    }  // waits for the workers

    JobResult result;
    {
        // Completions that come now change nothing: the job is done.
        const std::lock_guard lock(mutex_);
        if (store_ && store_->failed()) state_.rewind_to(store_->saved_history());
        const double wall_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_steady_).count();
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
            state_.finish(finished->task, std::move(finished->outcome), finished->ended_at, now_utc());
            finished.reset();
        }
        hand_out(self, after);
        publish(after);
        if (me.queue.empty()) steal_into(self);
        if (!me.queue.empty()) {
            const Queued next = me.queue.front();
            me.queue.pop_front();
            lock.unlock();
            after_unlock(after);
            finished = run_task(next.task, next.durable, stop);
            lock.lock();
            continue;
        }
        if (state_.done()) break;
        me.idle = true;
        idle_.push_back(self);
        lock.unlock();
        after_unlock(after);
        lock.lock();
        // Once given a task it looks again: that task may have been taken by a worker that
        // came free first.
        me.wake.wait(lock, [&] { return !me.idle || state_.done(); });
    }
    lock.unlock();
    after_unlock(after);
}

std::optional<JobExecution::Finished> JobExecution::run_task(const JobState::Started& task, bool durable,
                                                             const std::stop_token& stop) {
    const HandlerEntry& entry = *task.handler;
    if (!durable) {
        // A handler runs only once its start is committed, as a crashed process would not run it.
        return Finished{task.task, HandlerOutcome::abort("Job stopped: the store failed"), now_utc()};
    }
    if (entry.is_async()) {
        start_async_handler(shared_from_this(), task.task, *task.record, entry, stop);
        return std::nullopt;  // its completion ends the task, now or later
    }
    const CallContext context{limits_, *this,
                              OutcomeContext{task.record->id, task.record->depth, registry_, plan_mode_}};
    HandlerOutcome outcome = call_handler(*task.record, entry, stop, context);
    return Finished{task.task, std::move(outcome), now_utc()};
}

void JobExecution::complete(Index task, HandlerOutcome outcome) {
    const Timestamp ended_at = now_utc();
    AfterUnlock after;
    {
        const std::lock_guard lock(mutex_);
        if (state_.done()) return;
        state_.finish(task, std::move(outcome), ended_at, now_utc());
        hand_out(std::nullopt, after);
        publish(after);
    }
    after_unlock(after);
}

void JobExecution::hand_out(std::optional<std::size_t> self, AfterUnlock& after) {
    if (!state_.has_ready()) return;
    // One reading of the clock starts every task given out together. It follows the recording:
    // a task started here cannot seem to start before a dependency ended.
    const Timestamp now = now_utc();
    const auto give = [&](std::size_t worker) {
        workers_[worker].queue.push_back(Queued{*state_.start_next(now)});
        if (after.given.empty() || after.given.back() != worker) after.given.push_back(worker);
    };
    if (self && workers_[*self].queue.empty()) give(*self);
    while (!idle_.empty() && state_.has_ready()) {
        const std::size_t worker = idle_.back();
        idle_.pop_back();
        workers_[worker].idle = false;
        give(worker);
        after.wake.push_back(worker);
    }
    if (self && store_) {
        const std::size_t share = std::min(most_started_together - 1, state_.ready_count());
        for (std::size_t i = 0; i < share; ++i) give(*self);
    }
}

void JobExecution::steal_into(std::size_t self) {
    Worker* busiest = nullptr;
    for (std::size_t i = 0; i < worker_count_; ++i) {
        if (i != self && (!busiest || workers_[i].queue.size() > busiest->queue.size())) busiest = &workers_[i];
    }
    if (!busiest || busiest->queue.empty()) return;
    workers_[self].queue.push_back(busiest->queue.back());
    busiest->queue.pop_back();
}

void JobExecution::publish(AfterUnlock& after, bool commit_now) {
    // With a store, what a hold recorded without starting anything waits for the next commit:
    // nothing can depend on it before a task starts, and that start's commit carries it along.
    // Its events wait with it, so nothing is reported before it is committed.
    const bool defer = store_ && !commit_now && after.given.empty() && !state_.done();
    if (!defer) {
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
    if (state_.take_stop_signal()) after.request_stop = true;
    if (state_.done()) {
        for (const std::size_t worker : idle_) {
            workers_[worker].idle = false;
            after.wake.push_back(worker);
        }
        idle_.clear();
        job_done_.notify_all();
    }
}

void JobExecution::after_unlock(AfterUnlock& after) {
    for (const std::size_t worker : after.wake) workers_[worker].wake.notify_one();
    after.wake.clear();
    if (std::exchange(after.request_stop, false)) stop_source_.request_stop();
    if (observer_) observer_->deliver();
}

std::optional<nlohmann::json> JobExecution::output_of(std::string_view task_id) const {
    const std::lock_guard lock(mutex_);
    return state_.output_of(task_id);
}

}  // namespace jobgraph::detail
