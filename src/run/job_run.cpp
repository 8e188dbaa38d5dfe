#include "run/job_run.hpp"

#include "jobgraph/errors.hpp"
#include "run/spin_wait.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <span>
#include <stdexcept>
#include <thread>
#include <utility>

namespace jobgraph::detail {
namespace {

template <typename... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <typename... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

constexpr const char* abort_on_failure_reason = "Previous task failed and abortOnFailure is true";

// Workers take the job lock up to once per task, and most holds last well under a microsecond.
// Blocking at once would put the worker to sleep in the kernel; a sleep and wake-up costs
// several to tens of microseconds, so retry that many times first (only where can_spin: see
// spin_wait.hpp).
constexpr int retries_before_sleep = 1000;

// Takes the lock, retrying before it blocks, unless give_up() turns true first: then returns
// false without it.
template <typename GiveUp>
bool lock_soon_unless(std::unique_lock<std::mutex>& lock, GiveUp give_up) {
    if constexpr (can_spin) {
        for (int attempt = 0; attempt < retries_before_sleep; ++attempt) {
            if (give_up()) return false;
            if (lock.try_lock()) return true;
            cpu_relax();
        }
    }
    lock.lock();
    return true;
}

void lock_soon(std::unique_lock<std::mutex>& lock) {
    lock_soon_unless(lock, [] { return false; });
}

// How long a worker that did not combine last waits for the one that did (see await_answer):
// about the time a quick handler and a hold of the lock take.
constexpr auto answer_wait = std::chrono::microseconds(2);
constexpr int turns_without_waiting_after_timeout = 64;

}  // namespace

JobRun::JobRun(const HandlerRegistry& registry, PreparedJob job, RunSettings settings, std::vector<TaskRecord> restored)
    : registry_(registry),
      name_(job.spec.name),
      limits_(job.spec.limits),
      abort_on_failure_(job.spec.abort_on_failure),
      plan_mode_(job.spec.require_approval),
      settings_(std::move(settings)),
      store_(settings_.store),
      graph_(std::move(job.graph)),
      started_at_(now_utc()) {
    if (!restored.empty()) {
        restore(std::move(restored), std::move(job.handlers));
        return;
    }
    reserve_records(job.spec.tasks.size());
    for (std::size_t i = 0; i < job.spec.tasks.size(); ++i) {
        TaskSpec& spec = job.spec.tasks[i];
        // Built with its fields at once: a default TaskRecord allocates an empty input object.
        add_record(TaskRecord{.id = std::move(job.ids[i]),
                              .service = std::move(spec.service),
                              .command = std::move(spec.command),
                              // `input = {}` in C++ is null: no input, an empty object
                              .input = spec.input.is_null() ? nlohmann::json::object() : std::move(spec.input),
                              .depends_on = std::move(spec.depends_on)},
                   job.handlers[i], started_at_);  // all pending from the job's start
    }
}

void JobRun::reserve_records(std::size_t initial) {
    // maxTasks bounds the number of records. Reserving room for the tasks the job may still
    // spawn, up to 262,144 of them (about 100 MB of address space, touched only as tasks are
    // added), spares the job's lock from moving every record and vertex each time spawned tasks
    // outgrow the arrays.
    constexpr std::size_t most_spawned = std::size_t{1} << 18;
    const auto max_tasks = static_cast<std::size_t>(limits_.max_tasks);
    const std::size_t capacity = initial + std::min(max_tasks - std::min(max_tasks, initial), most_spawned);
    records_.reserve(capacity);
    records_stay_put_ = capacity >= max_tasks;
    handlers_.reserve(capacity);
    start_order_.reserve(capacity);
    graph_.reserve(capacity);
    ready_.reserve(capacity);
}

void JobRun::restore(std::vector<TaskRecord> restored, std::vector<const HandlerEntry*> root_handlers) {
    const std::size_t roots = graph_.size();
    reserve_records(restored.size());
    for (std::size_t i = 0; i < restored.size(); ++i) {
        if (i < roots && restored[i].id != graph_.id(static_cast<Index>(i))) {
            throw StoreError(fmt::format("Stored task {} does not match the job's task {}", restored[i].id,
                                         graph_.id(static_cast<Index>(i))));
        }
        handlers_.push_back(i < roots ? root_handlers[i] : registry_.find(restored[i].service, restored[i].command));
        records_.push_back(std::move(restored[i]));
        start_order_.push_back(0);
    }

    // Rebuild the spawned batches in the order they were added; each is a run of one parent's
    // children. Their tasks wait as they did, except those already planned.
    TaskGraph::Changes changes;
    for (std::size_t first = roots; first < records_.size();) {
        const auto& parent_id = records_[first].parent_id;
        const auto parent = parent_id ? graph_.find(*parent_id) : std::nullopt;
        if (!parent) throw StoreError(fmt::format("Stored task {} has no known parent", records_[first].id));
        std::vector<TaskGraph::NewTask> batch;
        std::size_t end = first;
        for (; end < records_.size() && records_[end].parent_id == parent_id; ++end) {
            batch.push_back({records_[end].id, records_[end].depends_on, records_[end].status == TaskStatus::planned});
        }
        if (const auto taken = graph_.duplicate_ids(batch, *parent, *parent_id); !taken.empty()) {
            throw StoreError(fmt::format("Stored task id {} is not unique", taken.front()));
        }
        try {
            graph_.add_children(*parent, *parent_id, batch, changes);
        } catch (const std::invalid_argument& error) {  // the parent's children are not together
            throw StoreError(fmt::format("Stored children out of order: {}", error.what()));
        }
        first = end;
    }

    // Put back what had ended, children before parents so that parents settle after them.
    bool any_failed = false;
    for (std::size_t i = records_.size(); i-- > 0;) {
        const auto task = static_cast<Index>(i);
        switch (records_[i].status) {
            case TaskStatus::succeeded:
                ++succeeded_;
                graph_.finish(task, TaskGraph::Outcome::succeeded, changes);
                break;
            case TaskStatus::failed:
                any_failed = true;
                graph_.finish(task, TaskGraph::Outcome::failed, changes);
                break;
            case TaskStatus::aborted:
                graph_.finish(task, TaskGraph::Outcome::aborted, changes);
                break;
            case TaskStatus::planned:
                if (i < roots) graph_.finish(task, TaskGraph::Outcome::planned, changes);  // children: done above
                break;
            case TaskStatus::started:  // interrupted: it runs again (at least once)
                set_status(task, TaskStatus::pending, "Interrupted before it finished; it runs again");
                break;
            case TaskStatus::pending:
                break;
        }
    }
    // Tasks that had ended keep their status whatever the rebuilt graph says of them.
    auto ended = [this](Index task) { return is_final(records_[task].status); };
    std::erase_if(changes.ready, ended);
    std::erase_if(changes.planned, ended);
    std::erase_if(changes.aborted, [&](const auto& entry) { return ended(entry.first); });
    apply(changes);
    if (any_failed && abort_on_failure_) stop(StopCause::failure, abort_on_failure_reason);
}

// --- the run as a whole --------------------------------------------------------------------

JobResult JobRun::execute(WorkerThreads& workers) {
    started_steady_ = std::chrono::steady_clock::now();
    if (settings_.observer) {
        std::lock_guard serial(observer_mutex_);
        settings_.observer->on_job_started(name_, records_.size());
    }
    bool signal = false;
    {
        std::lock_guard lock(mutex_);
        TaskGraph::Changes changes;
        graph_.start(changes);
        apply(changes);
        check_end();
        flush();
        signal = std::exchange(stop_signal_due_, false);
    }
    after_unlock(signal);
    {
        slot_count_ = workers.size();
        slots_ = std::make_unique<WorkerSlot[]>(slot_count_);
        // The workers use this run: on every way out of this block they are done with it first.
        struct JoinAtExit {
            WorkerThreads& threads;
            ~JoinAtExit() { threads.join(); }
        } join_at_exit{workers};
        workers.start([this](std::size_t worker) { worker_loop(slots_[worker]); });

        std::unique_lock lock(mutex_);
        if (limits_.timeout.count() > 0) {
            const auto deadline = started_steady_ + limits_.timeout;
            if (!job_done_.wait_until(lock, deadline, [this] { return done_; })) {
                const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - started_steady_);
                job_error_ =
                    fmt::format("Job execution timeout: {}ms limit exceeded. Elapsed: {}ms. Completed {}/{} tasks.",
                                limits_.timeout.count(), elapsed.count(), succeeded_, records_.size());
                stop(StopCause::timeout,
                     fmt::format("Job execution timeout: {}ms limit exceeded", limits_.timeout.count()));
                check_end();
                flush();
                signal = std::exchange(stop_signal_due_, false);
                lock.unlock();
                after_unlock(signal);
                lock.lock();
            }
        }
        job_done_.wait(lock, [this] { return done_; });
    }  // joins the workers
    // Freed with the run's other working state, not whenever the last Completion lets go.
    slots_.reset();
    deliver_events();
    JobResult result = build_result();
    if (store_) {
        try {
            store_->save_result(settings_.job_id, result);
        } catch (const std::exception& error) {
            result.status = JobStatus::failed;
            result.error_message = fmt::format("Store failed: {}", error.what());
        }
    }
    if (settings_.observer) {
        std::lock_guard serial(observer_mutex_);
        settings_.observer->on_job_finished(result);
    }
    return result;
}

void JobRun::worker_loop(WorkerSlot& slot) {
    // One token per worker for its synchronous calls: each copy counts a reference on the state
    // all workers share, and a copy per task would move that cache line between them.
    const std::stop_token stop = stop_source_.get_token();
    std::unique_lock lock(mutex_);
    for (;;) {
        while (ready_.empty() && !done_) {
            ++idle_workers_;
            work_ready_.wait(lock);
            --idle_workers_;
        }
        if (done_) return;
        // Nothing of its own to record: the combine records what others posted and gives this
        // worker a task like any other it answers.
        slot.state.store(WorkerSlot::recorded, std::memory_order_relaxed);
        combine(slot);
        unlock_and_publish(lock);
        slot.state.store(WorkerSlot::idle, std::memory_order_relaxed);
        // A turn ends with its outcome posted to the slot. The next holder of the lock records
        // it and answers with this worker's next task, so workers that finish together share
        // one hold, and the job's state stays in the cache of the worker that combines.
        while (slot.has_task) {
            run_turn(slot, stop);
            slot.state.store(WorkerSlot::posted, std::memory_order_release);
            if (await_answer(lock, slot)) unlock_and_publish(lock);
            // Relaxed: lock holders act only on a slot posted after this, with a release, and no
            // other state of a slot outlives one hold of the lock.
            slot.state.store(WorkerSlot::idle, std::memory_order_relaxed);
            if (!slot.outcome.children.empty()) slot.outcome = {};  // the batch's buffers, freed unlocked
        }
        lock_soon(lock);
    }
}

void JobRun::run_turn(WorkerSlot& slot, const std::stop_token& stop) {
    const HandlerEntry& entry = *slot.handler;
    // While the array has room for every task the job may have, it never moves and the handler
    // reads its task's record in place. Otherwise adding spawned tasks may move it: assign()
    // lent a synchronous handler its record until it returns (nothing else reads the record of
    // a running task), and gave an asynchronous one a copy, as its completion may write the
    // record before the call returns.
    const TaskRecord& record = slot.lent_record ? *slot.lent_record : records_[slot.task];
    // A handler runs only once its start is committed, as a crashed process would not run it.
    if (!slot.durable) {
        slot.outcome = HandlerOutcome::abort("Job stopped: the store failed");
    } else if (!entry.is_async()) {
        slot.outcome = call_handler(record, entry, stop);
    } else {
        start_async_handler(slot.task, record, entry, stop);  // its completion ends the task, now or later
    }
    slot.has_outcome = !slot.durable || !entry.is_async();
    if (slot.has_outcome) slot.ended_at = now_utc();
    if (entry.is_async()) slot.lent_record.reset();  // a copy: never written back
}

bool JobRun::await_answer(std::unique_lock<std::mutex>& lock, WorkerSlot& slot) {
    const auto answered = [&] { return slot.state.load(std::memory_order_acquire) == WorkerSlot::answered; };
    if constexpr (can_spin) {
        // The worker that combined last has the job's state in its cache and takes the lock at
        // once. Another first gives it a moment to come back from its handler and answer: when
        // tasks are quick, the state then stays on one core instead of moving at every task.
        // The moment is timed, as a pause takes from a few cycles to over 100 ns (seen under a
        // hypervisor; the clock reads are vDSO calls on Linux). If it passes in vain, the
        // combiner's handlers are not that quick, or it sleeps for want of work: the worker
        // stops waiting for a while rather than lose the moment at every task.
        if (combiner_.load(std::memory_order_relaxed) != &slot) {
            if (slot.turns_without_waiting > 0) {
                --slot.turns_without_waiting;
            } else {
                const auto until = std::chrono::steady_clock::now() + answer_wait;
                do {
                    if (answered()) return false;
                    cpu_relax();
                } while (std::chrono::steady_clock::now() < until);
                slot.turns_without_waiting = turns_without_waiting_after_timeout;
            }
        }
    }
    if (!lock_soon_unless(lock, answered)) return false;
    combine(slot);  // answers this slot too, unless another holder did meanwhile
    return true;
}

void JobRun::unlock_and_publish(std::unique_lock<std::mutex>& lock) {
    // Hand the rest on: one wake here, and each woken worker wakes the next if work remains.
    if (!ready_.empty() && idle_workers_ > 0) work_ready_.notify_one();
    const bool signal = std::exchange(stop_signal_due_, false);
    const bool events = !events_.empty();
    lock.unlock();
    if (signal || events) after_unlock(signal);
}

void JobRun::complete(Index task, HandlerOutcome outcome) {
    const Timestamp ended_at = now_utc();
    bool signal = false;
    {
        std::unique_lock lock(mutex_, std::defer_lock);
        lock_soon(lock);
        if (done_) return;
        finish_task(task, std::move(outcome), ended_at);
        if (!ready_.empty() && idle_workers_ > 0) work_ready_.notify_one();
        signal = std::exchange(stop_signal_due_, false);
    }
    after_unlock(signal);
}

void JobRun::after_unlock(bool request_stop) {
    if (request_stop) stop_source_.request_stop();
    deliver_events();
}

void JobRun::start_async_handler(Index task, const TaskRecord& record, const HandlerEntry& entry,
                                 const std::stop_token& stop) {
    auto state = std::make_shared<CompletionState>(shared_from_this(), task, record.id, record.depth, stop);
    TaskContext context(record, limits_, stop, *this, state->spawned());
    try {
        entry.async_handler(context, Completion(state));
    } catch (const StopRequested& error) {
        state->abort(error.what());
    } catch (const std::exception& error) {
        state->fail(error.what());
    } catch (...) {
        state->fail("unknown exception");
    }
}

HandlerOutcome JobRun::call_handler(const TaskRecord& record, const HandlerEntry& entry, const std::stop_token& stop) {
    SpawnBuffer spawned;
    TaskContext context(record, limits_, stop, *this, spawned);
    try {
        nlohmann::json result = entry.handler(context);
        return interpret(record.id, record.depth, std::move(result), std::move(spawned));
    } catch (const StopRequested& error) {
        return HandlerOutcome::abort(error.what());
    } catch (const std::exception& error) {
        return stop.stop_requested() ? HandlerOutcome::abort(error.what()) : HandlerOutcome::failure(error.what());
    } catch (...) {
        return stop.stop_requested() ? HandlerOutcome::abort("unknown exception")
                                     : HandlerOutcome::failure("unknown exception");
    }
}

HandlerOutcome JobRun::interpret(std::string_view task_id, int depth, nlohmann::json result,
                                 SpawnBuffer spawned) const {
    return interpret_result(std::move(result), std::move(spawned),
                            OutcomeContext{task_id, depth, registry_, plan_mode_});
}

std::optional<nlohmann::json> JobRun::output_of(std::string_view task_id) const {
    std::lock_guard lock(mutex_);
    if (done_) return std::nullopt;
    const auto task = graph_.find(task_id);
    if (!task || records_[*task].status != TaskStatus::succeeded) return std::nullopt;
    return records_[*task].output;
}

// --- under the lock ------------------------------------------------------------------------

void JobRun::add_record(TaskRecord&& record, const HandlerEntry* handler, Timestamp pending_at) {
    record.history.reserve(3);  // pending, started, and how it ended
    const auto task = static_cast<Index>(records_.size());
    records_.push_back(std::move(record));
    handlers_.push_back(handler);
    start_order_.push_back(0);
    set_status(task, TaskStatus::pending, {}, pending_at);
}

void JobRun::set_status(Index task, TaskStatus status, std::string reason, Timestamp at) {
    TaskRecord& record = records_[task];
    record.status = status;
    if (status == TaskStatus::started) {
        record.started_at = at;
    } else if (is_final(status)) {
        record.completed_at = at;
    }
    if (status == TaskStatus::succeeded) ++succeeded_;
    if (settings_.observer) events_.emplace_back(TaskEvent{record.id, status, at, reason});
    // Filled in place: a braced entry pushed back would move the reason twice.
    HistoryEntry& entry = record.history.emplace_back();
    entry.status = status;
    entry.at = at;
    entry.reason = std::move(reason);
    if (store_) unsaved_.push_back(task);
}

void JobRun::flush() {
    if (!store_ || unsaved_.empty()) return;
    std::sort(unsaved_.begin(), unsaved_.end());
    unsaved_.erase(std::unique(unsaved_.begin(), unsaved_.end()), unsaved_.end());
    std::vector<std::pair<std::size_t, const TaskRecord*>> changed;
    changed.reserve(unsaved_.size());
    for (const Index task : unsaved_) changed.emplace_back(task, &records_[task]);
    unsaved_.clear();
    try {
        store_->save_tasks(settings_.job_id, changed);
    } catch (const std::exception& error) {
        // Without durable state the job must not go on as if it had it.
        store_ = nullptr;
        job_error_ = fmt::format("Store failed: {}", error.what());
        stop(StopCause::failure, "Job stopped: the store failed");
        check_end();
    }
}

void JobRun::end_unstarted(Index task, TaskStatus status, std::string reason) {
    if (status == TaskStatus::aborted) records_[task].output = nlohmann::json{{"error", reason}};
    set_status(task, status, std::move(reason));
}

bool JobRun::begin_task(Index task, Timestamp started_at) {
    graph_.mark_started(task);
    start_order_[task] = next_start_++;
    ++in_flight_;
    ++records_[task].attempts;
    set_status(task, TaskStatus::started, {}, started_at);
    flush();  // a task known to have started runs again after a crash, and counts its attempts
    return store_ != nullptr || settings_.store == nullptr;
}

void JobRun::finish_task(Index task, HandlerOutcome&& outcome, Timestamp succeeded_at) {
    --in_flight_;
    std::string note;
    const bool spawning = outcome.kind == HandlerOutcome::Kind::succeeded && !outcome.children.empty();
    bool add_batch = false;
    if (spawning && stop_cause_ != StopCause::none) {
        note = fmt::format("{} child task(s) not added: the job is stopping", outcome.children.size());
    } else if (spawning) {
        if (auto error = check_batch(task, outcome)) {
            outcome = HandlerOutcome::failure(std::move(*error));
        } else {
            add_batch = true;
        }
    }

    TaskRecord& record = records_[task];
    record.output = std::move(outcome.output);
    record.trace = std::move(outcome.trace);
    TaskGraph::Changes& changes = changes_;  // reused: apply() leaves it empty
    // A success keeps the time its handler came to it. A failure is timed now, as it is
    // recorded: with abortOnFailure, no task may seem to have started after it.
    switch (outcome.kind) {
        case HandlerOutcome::Kind::succeeded:
            set_status(task, TaskStatus::succeeded, std::move(note), succeeded_at);
            if (add_batch) add_children(task, outcome, changes);
            graph_.finish(task, TaskGraph::Outcome::succeeded, changes);
            break;
        case HandlerOutcome::Kind::failed:
            set_status(task, TaskStatus::failed, std::move(outcome.message));
            graph_.finish(task, TaskGraph::Outcome::failed, changes);
            break;
        case HandlerOutcome::Kind::aborted:
            set_status(task, TaskStatus::aborted, std::move(outcome.message));
            graph_.finish(task, TaskGraph::Outcome::aborted, changes);
            break;
    }
    apply(changes);
    if (outcome.kind == HandlerOutcome::Kind::failed && abort_on_failure_)
        stop(StopCause::failure, abort_on_failure_reason);
    check_end();
    flush();
}

std::optional<std::string> JobRun::check_batch(Index parent, const HandlerOutcome& outcome) const {
    const auto& batch = outcome.batch;
    const std::string& parent_id = records_[parent].id;
    if (const auto duplicates = graph_.duplicate_ids(batch, parent, parent_id); !duplicates.empty()) {
        return fmt::format("Duplicate child task IDs detected: {}", fmt::join(duplicates, ", "));
    }
    if (const auto missing = graph_.missing_dependencies(batch); !missing.empty()) {
        std::vector<std::string> lines;
        for (const auto& [child, dep] : missing) {
            lines.push_back(
                fmt::format("Invalid dependency: Child task {} depends on non-existent task {}", child, dep));
        }
        return fmt::format("{}", fmt::join(lines, "\n"));
    }
    const int child_depth = graph_.depth(parent) + 1;
    if (child_depth > limits_.max_depth) {
        return fmt::format(
            "Task depth limit exceeded: {} levels maximum. Task {} attempted to spawn child at depth {}. Child ID: {}",
            limits_.max_depth, parent_id, child_depth, batch.front().id);
    }
    // Checked under the lock that also adds the batch: concurrent spawners cannot overshoot.
    const auto room =
        static_cast<std::size_t>(limits_.max_tasks) - std::min<std::size_t>(graph_.size(), limits_.max_tasks);
    if (batch.size() > room) {
        return fmt::format("Task limit exceeded: {} tasks maximum. Task {} attempted to spawn child {}.",
                           limits_.max_tasks, parent_id, batch[room].id);
    }
    if (settings_.check_cycles) {
        if (auto cycle = graph_.cycle_through_batch(parent, batch)) return "Circular dependencies detected: " + *cycle;
    }
    return std::nullopt;
}

void JobRun::add_children(Index parent, HandlerOutcome& outcome, TaskGraph::Changes& changes) {
    SpawnEvent event;
    if (settings_.observer) event.child_ids = outcome.child_ids;
    // The graph takes the batch first: it keeps no copy of a generated id, so each id can then
    // move on into its record. The new indices are the records' next positions.
    graph_.add_children(parent, records_[parent].id, outcome.batch, changes);
    records_[parent].children = std::move(outcome.child_ids);  // a task spawns one batch, once
    // The batch joins the job in the step that ends its parent, at the time recorded for that.
    const Timestamp added_at = records_[parent].history.back().at;
    for (std::size_t i = 0; i < outcome.children.size(); ++i) {
        outcome.children[i].id = std::move(outcome.batch[i].id);
        add_record(std::move(outcome.children[i]), outcome.handlers[i], added_at);
    }
    if (settings_.observer) {
        event.parent_id = records_[parent].id;
        events_.emplace_back(std::move(event));
    }
}

void JobRun::apply(TaskGraph::Changes& changes) {
    for (const auto& [task, cause] : changes.aborted) {
        end_unstarted(task, TaskStatus::aborted, fmt::format("Aborted: dependency {} failed", records_[cause].id));
    }
    for (const Index task : changes.planned) {
        const HandlerEntry& entry = *handlers_[task];
        end_unstarted(task, TaskStatus::planned,
                      entry.options.side_effect_free
                          ? "Awaiting approval: a dependency is planned"
                          : fmt::format("Awaiting approval: {}/{} has side effects", entry.service, entry.command));
    }
    for (const Index task : changes.ready) ready_.push(task);
    changes.clear();
}

void JobRun::stop(StopCause cause, const std::string& reason) {
    if (stop_cause_ != StopCause::none) return;
    stop_cause_ = cause;
    stop_signal_due_ = true;
    ready_.clear();
    TaskGraph::Changes changes;
    for (const Index task : graph_.abort_not_started(changes)) end_unstarted(task, TaskStatus::aborted, reason);
    apply(changes);
}

void JobRun::check_end() {
    if (done_) return;
    if (graph_.unsettled() > 0 && ready_.empty() && in_flight_ == 0) {
        // Nothing runs, nothing can start, nothing is awaited: the rest can never run.
        std::vector<std::string_view> stranded;
        TaskGraph::Changes changes;
        const auto ended = graph_.abort_not_started(changes);
        for (const Index task : ended) stranded.push_back(records_[task].id);
        job_error_ = fmt::format("Deadlock detected: {} tasks cannot execute. Incomplete tasks: {}", stranded.size(),
                                 fmt::join(stranded, ", "));
        stop_cause_ = StopCause::deadlock;
        stop_signal_due_ = true;
        for (const Index task : ended)
            end_unstarted(task, TaskStatus::aborted, "Deadlock detected: task cannot execute");
        apply(changes);
    }
    if (graph_.unsettled() == 0 || (ready_.empty() && in_flight_ == 0)) {
        done_ = true;
        work_ready_.notify_all();
        job_done_.notify_all();
    }
}

void JobRun::combine(WorkerSlot& self) noexcept {
    // Written only on a change: the other workers read it once a turn.
    if (combiner_.load(std::memory_order_relaxed) != &self) combiner_.store(&self, std::memory_order_relaxed);
    // Every outcome posted by now before any next task: a failure among them stops the job
    // before any of these workers is given one. Reading a slot costs a cache miss only if its
    // worker wrote it since the last look, that is mostly when it has an outcome to record.
    // A slot is recorded and answered within this one hold, which is why the `recorded` and
    // `idle` stores can be relaxed.
    const std::span slots(slots_.get(), slot_count_);
    record_posted(self);
    for (WorkerSlot& slot : slots) {
        if (&slot != &self) record_posted(slot);
    }
    // One reading of the clock starts every task given out in this hold. It follows the
    // recording: a task started here cannot seem to start before a dependency ended.
    const Timestamp started_at = ready_.empty() ? Timestamp{} : now_utc();
    answer_recorded(self, started_at);  // first: the smallest ready task goes to the one core already running
    for (WorkerSlot& slot : slots) {
        if (&slot != &self) answer_recorded(slot, started_at);
    }
}

void JobRun::record_posted(WorkerSlot& slot) noexcept {
    if (slot.state.load(std::memory_order_acquire) != WorkerSlot::posted) return;
    if (slot.has_outcome) {
        if (slot.lent_record) {
            records_[slot.task] = std::move(*slot.lent_record);
            slot.lent_record.reset();
        }
        finish_task(slot.task, std::move(slot.outcome), slot.ended_at);
    }
    slot.state.store(WorkerSlot::recorded, std::memory_order_relaxed);  // only lock holders act on it
}

void JobRun::answer_recorded(WorkerSlot& slot, Timestamp started_at) noexcept {
    if (slot.state.load(std::memory_order_relaxed) != WorkerSlot::recorded) return;
    assign(slot, started_at);
    slot.state.store(WorkerSlot::answered, std::memory_order_release);
}

void JobRun::assign(WorkerSlot& slot, Timestamp started_at) noexcept {
    slot.has_task = !ready_.empty();
    if (!slot.has_task) return;
    const Index task = ready_.pop();
    slot.task = task;
    slot.handler = handlers_[task];
    slot.durable = begin_task(task, started_at);
    if (!records_stay_put_) {
        if (slot.handler->is_async()) {
            slot.lent_record = records_[task];
        } else {
            slot.lent_record = std::move(records_[task]);
        }
    }
}

// --- observers and the result --------------------------------------------------------------

void JobRun::deliver_events() {
    JobObserver* observer = settings_.observer;
    if (!observer) return;
    std::lock_guard serial(observer_mutex_);
    std::vector<Event> batch;
    {
        std::lock_guard lock(mutex_);
        batch.swap(events_);
    }
    for (const Event& event : batch) {
        std::visit(Overloaded{[&](const TaskEvent& e) { observer->on_task_status(e); },
                              [&](const SpawnEvent& e) { observer->on_spawn(e); }},
                   event);
    }
}

JobResult JobRun::build_result() {
    std::lock_guard lock(mutex_);
    JobResult result;
    result.name = name_;
    result.started_at = started_at_;
    result.completed_at = now_utc();

    // The run is over (done_ keeps late completions and output look-ups away): the structure
    // goes before the sort allocates, so the job's peak memory is the run's own.
    graph_ = TaskGraph{};
    handlers_ = {};

    // By start time, never-started last, then creation order. Within this run the start
    // sequence is exact where the clock's microseconds tie; tasks started by an earlier,
    // interrupted run have none (0). The keys sit in one array: sorting compares no records.
    struct StartKey {
        Timestamp at;  // Timestamp::max() for a task that never started
        std::uint64_t sequence;
        Index task;
        auto operator<=>(const StartKey&) const = default;
    };
    std::vector<StartKey> keys;
    keys.reserve(records_.size());
    for (Index task = 0; task < records_.size(); ++task) {
        keys.push_back({records_[task].started_at.value_or(Timestamp::max()), start_order_[task], task});
    }
    start_order_ = {};
    // Ready tasks start smallest index first, so in many jobs the keys are in order already.
    if (!std::is_sorted(keys.begin(), keys.end())) std::sort(keys.begin(), keys.end());
    // Reorder the records in place, one cycle of the permutation at a time, and hand the
    // whole array over: no second copy of the records exists at any point.
    for (std::size_t first = 0; first < keys.size(); ++first) {
        if (keys[first].task == first) continue;
        TaskRecord held = std::move(records_[first]);
        std::size_t position = first;
        while (keys[position].task != first) {
            const Index source = std::exchange(keys[position].task, static_cast<Index>(position));
            records_[position] = std::move(records_[source]);
            position = source;
        }
        keys[position].task = static_cast<Index>(position);
        records_[position] = std::move(held);
    }
    result.tasks = std::move(records_);

    result.stats = count_statuses(result.tasks);
    result.stats.wall_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_steady_).count();
    result.error_message = job_error_;
    if (job_error_ || result.stats.failed > 0 || result.stats.aborted > 0) {
        result.status = JobStatus::failed;
    } else if (result.stats.planned > 0) {
        result.status = JobStatus::awaiting_approval;
    } else {
        result.status = JobStatus::succeeded;
    }
    result.history.push_back(JobHistoryEntry{JobStatus::running, started_at_, {}});
    result.history.push_back(JobHistoryEntry{result.status, result.completed_at, job_error_.value_or("")});
    return result;
}

// --- asynchronous completion ---------------------------------------------------------------

CompletionState::~CompletionState() {
    if (claim())
        run_->complete(task_,
                       HandlerOutcome::failure("Asynchronous handler dropped its completion without fulfilling it"));
}

bool CompletionState::succeed(nlohmann::json result) {
    if (!claim()) return false;
    run_->complete(task_, run_->interpret(task_id_, depth_, std::move(result), std::move(spawned_)));
    return true;
}

bool CompletionState::fail(std::string message) {
    if (!claim()) return false;
    run_->complete(task_, stop_.stop_requested() ? HandlerOutcome::abort(std::move(message))
                                                 : HandlerOutcome::failure(std::move(message)));
    return true;
}

bool CompletionState::abort(std::string reason) {
    if (!claim()) return false;
    run_->complete(task_, HandlerOutcome::abort(std::move(reason)));
    return true;
}

}  // namespace jobgraph::detail
