#include "core/job_state.hpp"

#include "spec/task_policy.hpp"

#include "jobgraph/errors.hpp"
#include "jobgraph/store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace jobgraph::detail {
namespace {

constexpr const char* abort_on_failure_reason = "Previous task failed and abortOnFailure is true";

}  // namespace

JobState::JobState(const HandlerRegistry& registry, PreparedJob job, JobStateOptions options, Timestamp now,
                   std::vector<TaskRecord> restored)
    : registry_(registry),
      name_(job.spec.name),
      limits_(job.spec.limits),
      abort_on_failure_(job.spec.abort_on_failure),
      task_defaults_(job.spec.task_defaults),
      options_(options),
      started_at_(now),
      graph_(std::move(job.graph)),
      records_(static_cast<std::size_t>(std::max<std::int64_t>(limits_.max_tasks, 0))),
      ready_(job.spec.concurrency, options.shared_slots),
      jitter_(options.jitter_seed != 0 ? options.jitter_seed : std::random_device{}()) {
    if (!restored.empty()) {
        restore(std::move(restored), job.handlers, now);
        return;
    }
    handlers_.reserve(job.spec.tasks.size());
    start_order_.reserve(job.spec.tasks.size());
    for (std::size_t i = 0; i < job.spec.tasks.size(); ++i) {
        TaskSpec& spec = job.spec.tasks[i];
        TaskRecord record{.id = std::move(job.ids[i]),
                          .service = std::move(spec.service),
                          .command = std::move(spec.command),
                          // `input = {}` in C++ is null: no input, an empty object
                          .input = spec.input.is_null() ? nlohmann::json::object() : std::move(spec.input),
                          .depends_on = std::move(spec.depends_on)};
        apply_task_policy(record, spec, task_defaults_);
        add_record(std::move(record), job.handlers[i], now);  // all pending from the job's start
    }
}

void JobState::restore(std::vector<TaskRecord> restored, const std::vector<const HandlerEntry*>& root_handlers,
                       Timestamp now) {
    const std::size_t roots = graph_.size();
    handlers_.reserve(restored.size());
    start_order_.reserve(restored.size());
    logged_.reserve(restored.size());
    for (std::size_t i = 0; i < restored.size(); ++i) {
        if (i < roots && restored[i].id != graph_.id(static_cast<Index>(i))) {
            throw StoreError(fmt::format("Stored task {} does not match the job's task {}", restored[i].id,
                                         graph_.id(static_cast<Index>(i))));
        }
        handlers_.push_back(i < roots ? root_handlers[i] : registry_.find(restored[i].service, restored[i].command));
        records_.push_back(std::move(restored[i]));
        start_order_.push_back(0);
        group_.push_back(ready_.group_of(handlers_.back()));
        call_open_.push_back(0);
        logged_.push_back(false);
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
                set_status(task, TaskStatus::pending, "Interrupted before it finished; it runs again", now);
                break;
            case TaskStatus::retrying:  // keeps its due time; one already past runs at once
                graph_.mark_started(task);
                retries_.emplace(records_[i].next_attempt_at.value_or(now), task);
                break;
            case TaskStatus::pending:
                break;
        }
    }
    // Tasks that had ended keep their status whatever the rebuilt graph says of them.
    auto ended = [this](Index task) { return is_final(records_[task].status); };
    std::erase_if(changes.ready,
                  [&](Index task) { return ended(task) || records_[task].status == TaskStatus::retrying; });
    std::erase_if(changes.planned, ended);
    std::erase_if(changes.aborted, [&](const auto& entry) { return ended(entry.first); });
    apply(changes, now);
    if (any_failed && abort_on_failure_) stop(StopCause::failure, abort_on_failure_reason, now);
}

void JobState::begin() {
    TaskGraph::Changes changes;
    graph_.start(changes);
    apply(changes, started_at_);
    check_end(started_at_);
}

std::optional<JobState::Started> JobState::start_next(Timestamp now) {
    if (stop_cause_ != StopCause::none) return std::nullopt;
    const auto next = ready_.pop_startable();
    if (!next) return std::nullopt;
    const Index task = *next;
    graph_.mark_started(task);
    if (start_order_[task] == 0) start_order_[task] = next_start_++;
    ++in_flight_;
    call_open_[task] = 1;
    ++open_calls_;
    TaskRecord& record = records_[task];
    ++record.attempts;
    record.next_attempt_at.reset();
    set_status(task, TaskStatus::started, {}, now);
    return Started{task, &record, handlers_[task], record.attempts};
}

void JobState::finish(Index task, int attempt, HandlerOutcome&& outcome, Timestamp ended_at, Timestamp now) {
    if (done_) return;  // a completion that came after the run ended changes nothing
    if (!call_open_[task] || records_[task].attempts != attempt) return;  // a call given up on
    const bool attempt_on = records_[task].status == TaskStatus::started;
    close_call(task, now);
    if (attempt_on) end_attempt(task, std::move(outcome), ended_at, now, /*gave_up_in_time=*/true);
    check_end(now);
}

void JobState::time_out_attempt(Index task, int attempt, Timestamp now) {
    if (done_ || records_[task].status != TaskStatus::started || records_[task].attempts != attempt) return;
    end_attempt(task,
                HandlerOutcome::failure(fmt::format("Task timeout: {}ms limit exceeded", records_[task].timeout.count())),
                now, now, /*gave_up_in_time=*/true);
    check_end(now);
}

void JobState::abandon_call(Index task, int attempt, const std::string& reason, Timestamp now) {
    if (done_ || !call_open_[task] || records_[task].attempts != attempt) return;
    const bool attempt_on = records_[task].status == TaskStatus::started;
    close_call(task, now);
    if (attempt_on) end_attempt(task, HandlerOutcome::abort(reason), now, now, /*gave_up_in_time=*/false);
    check_end(now);
}

void JobState::withdraw(Index task, int attempt, Timestamp now) {
    if (done_ || !call_open_[task] || records_[task].attempts != attempt) return;
    close_call(task, now);
    if (records_[task].status == TaskStatus::started) {
        // Its start is in the store and the history, so it counts as an attempt, as after a
        // crash between the start's commit and the call.
        if (stop_cause_ == StopCause::interrupt) {
            --in_flight_;
            set_status(task, TaskStatus::pending, "Interrupted before its handler was called", now);
        } else {
            end_attempt(task, HandlerOutcome::abort(stop_reason_), now, now, /*gave_up_in_time=*/true);
        }
    }
    check_end(now);
}

std::vector<JobState::OpenCall> JobState::open_async_calls() const {
    std::vector<OpenCall> calls;
    if (open_calls_ == 0) return calls;
    for (Index task = 0; task < records_.size(); ++task) {
        if (call_open_[task] && handlers_[task]->is_async()) calls.push_back(OpenCall{task, records_[task].attempts});
    }
    return calls;
}

std::optional<Timestamp> JobState::next_retry_due() const {
    for (const auto& [due, task] : retries_) {
        if (!call_open_[task]) return due;  // one whose call is still on waits for that call
    }
    return std::nullopt;
}

void JobState::start_due_retries(Timestamp now) {
    for (auto it = retries_.begin(); it != retries_.end() && it->first <= now;) {
        const Index task = it->second;
        if (call_open_[task]) {
            ++it;
            continue;
        }
        it = retries_.erase(it);
        make_ready(task);
    }
}

// A task's handler call came back (or was given up on): what it held is free, and a retry
// that fell due meanwhile may start.
void JobState::close_call(Index task, Timestamp now) {
    call_open_[task] = 0;
    --open_calls_;
    ready_.release(group_[task]);
    const TaskRecord& record = records_[task];
    if (record.status == TaskStatus::retrying && record.next_attempt_at && *record.next_attempt_at <= now) {
        if (retries_.erase({*record.next_attempt_at, task}) > 0) make_ready(task);
    }
}

void JobState::make_ready(Index task) {
    // Once the job stops nothing more starts: an interrupted job's tasks stay as they are.
    if (stop_cause_ != StopCause::none) return;
    ready_.push(task, group_[task], records_[task].priority);
}

void JobState::end_attempt(Index task, HandlerOutcome&& outcome, Timestamp ended_at, Timestamp now,
                           bool gave_up_in_time) {
    --in_flight_;
    TaskRecord& record = records_[task];
    // A batch that fails the job's checks fails the attempt, which may then be retried.
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
    if (outcome.kind == HandlerOutcome::Kind::failed && outcome.retryable &&
        record.attempts < record.retry.max_attempts && stop_cause_ == StopCause::none) {
        record.output = std::move(outcome.output);
        record.trace = std::move(outcome.trace);
        schedule_retry(task, outcome.message, now);
        return;
    }
    if (outcome.kind == HandlerOutcome::Kind::aborted && gave_up_in_time) {
        if (stop_cause_ == StopCause::interrupt) {
            // It runs again when the job is resumed, its attempts counting on.
            record.output = nullptr;
            record.trace = nullptr;
            set_status(task, TaskStatus::pending, "Interrupted", now);
            return;
        }
        if (stop_cause_ == StopCause::cancel) outcome = HandlerOutcome::abort(stop_reason_);
    }


    record.output = std::move(outcome.output);
    record.trace = std::move(outcome.trace);
    TaskGraph::Changes& changes = scratch_;
    // A success keeps the time its handler came to it. A failure is timed as it is recorded:
    // with abortOnFailure, no task may seem to have started after it.
    switch (outcome.kind) {
        case HandlerOutcome::Kind::succeeded:
            set_status(task, TaskStatus::succeeded, std::move(note), ended_at);
            if (add_batch) add_children(task, outcome, changes);
            graph_.finish(task, TaskGraph::Outcome::succeeded, changes);
            break;
        case HandlerOutcome::Kind::failed:
            set_status(task, TaskStatus::failed, std::move(outcome.message), now);
            graph_.finish(task, TaskGraph::Outcome::failed, changes);
            break;
        case HandlerOutcome::Kind::aborted:
            set_status(task, TaskStatus::aborted, std::move(outcome.message), now);
            graph_.finish(task, TaskGraph::Outcome::aborted, changes);
            break;
    }
    apply(changes, now);
    if (outcome.kind == HandlerOutcome::Kind::failed && abort_on_failure_)
        stop(StopCause::failure, abort_on_failure_reason, now);
}

void JobState::schedule_retry(Index task, const std::string& error, Timestamp now) {
    TaskRecord& record = records_[task];
    const RetryPolicy& retry = record.retry;
    // delay * backoff^(k-1) after the k-th attempt, capped; in double first, so that a large
    // attempt count or factor cannot overflow before the cap applies.
    const double grown = static_cast<double>(retry.delay.count()) * std::pow(retry.backoff, record.attempts - 1);
    auto delay_ms = static_cast<std::int64_t>(std::min(grown, static_cast<double>(retry.max_delay.count())));
    if (retry.jitter && delay_ms > 0) delay_ms = std::uniform_int_distribution<std::int64_t>(0, delay_ms)(jitter_);
    const Timestamp due = now + std::chrono::milliseconds(delay_ms);
    record.next_attempt_at = due;
    set_status(task, TaskStatus::retrying,
               fmt::format("Attempt {} of {} failed: {}; next attempt in {} ms", record.attempts,
                           retry.max_attempts, error, delay_ms),
               now);
    retries_.emplace(due, task);
}

void JobState::time_out(std::chrono::milliseconds elapsed, Timestamp now) {
    if (done_ || stop_cause_ != StopCause::none) return;
    job_error_ = fmt::format("Job execution timeout: {}ms limit exceeded. Elapsed: {}ms. Completed {}/{} tasks.",
                             limits_.timeout.count(), elapsed.count(), succeeded_, records_.size());
    stop(StopCause::timeout, fmt::format("Job execution timeout: {}ms limit exceeded", limits_.timeout.count()), now);
    check_end(now);
}

void JobState::cancel(const std::string& reason, Timestamp now) {
    if (done_ || stop_cause_ != StopCause::none) return;
    job_error_ = fmt::format("Job cancelled: {}", reason);
    stop(StopCause::cancel, *job_error_, now);
    check_end(now);
}

void JobState::interrupt(Timestamp now) {
    if (done_ || stop_cause_ != StopCause::none) return;
    stop(StopCause::interrupt, "Interrupted", now);
    check_end(now);
}

void JobState::fail_store(const std::string& error, Timestamp now) {
    if (!job_error_) job_error_ = fmt::format("Store failed: {}", error);
    stop_cause_ = StopCause::none;  // the store's failure outranks any stop under way
    stop(StopCause::store, "Job stopped: the store failed", now);
    check_end(now);
}

std::optional<nlohmann::json> JobState::output_of(std::string_view task_id) const {
    const auto task = graph_.find(task_id);
    if (!task || records_[*task].status != TaskStatus::succeeded) return std::nullopt;
    return records_[*task].output;
}

void JobState::take_changes(ChangeLog& into) {
    into.clear();
    std::swap(into, log_);
    for (const Index task : into.tasks) logged_[task] = false;
}

// --- records ---------------------------------------------------------------------------------

void JobState::add_record(TaskRecord&& record, const HandlerEntry* handler, Timestamp pending_at) {
    record.history.reserve(3);  // pending, started, and how it ended
    const auto task = static_cast<Index>(records_.size());
    records_.push_back(std::move(record));
    handlers_.push_back(handler);
    start_order_.push_back(0);
    group_.push_back(ready_.group_of(handler));
    call_open_.push_back(0);
    logged_.push_back(false);
    set_status(task, TaskStatus::pending, {}, pending_at);
}

void JobState::set_status(Index task, TaskStatus status, std::string reason, Timestamp at) {
    TaskRecord& record = records_[task];
    record.status = status;
    if (status == TaskStatus::started) {
        if (!record.started_at) record.started_at = at;  // the first attempt's start
    } else if (is_final(status)) {
        record.completed_at = at;
        record.next_attempt_at.reset();
    }
    if (status == TaskStatus::succeeded) ++succeeded_;
    if (options_.record_events) log_.events.emplace_back(TaskEvent{record.id, status, at, reason});
    record.history.push_back(HistoryEntry{status, at, std::move(reason)});
    note_changed(task);
}

void JobState::note_changed(Index task) {
    if (!options_.track_changes || logged_[task]) return;
    logged_[task] = true;
    log_.tasks.push_back(task);
}

void JobState::end_unstarted(Index task, TaskStatus status, std::string reason, Timestamp at) {
    if (status == TaskStatus::aborted) records_[task].output = nlohmann::json{{"error", reason}};
    set_status(task, status, std::move(reason), at);
}

// --- spawned batches -------------------------------------------------------------------------

std::optional<std::string> JobState::check_batch(Index parent, const HandlerOutcome& outcome) const {
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
    // Checked in the same step that adds the batch: concurrent spawners cannot overshoot.
    const auto room =
        static_cast<std::size_t>(limits_.max_tasks) - std::min<std::size_t>(graph_.size(), limits_.max_tasks);
    if (batch.size() > room) {
        return fmt::format("Task limit exceeded: {} tasks maximum. Task {} attempted to spawn child {}.",
                           limits_.max_tasks, parent_id, batch[room].id);
    }
    if (options_.check_cycles) {
        if (auto cycle = graph_.cycle_through_batch(parent, batch)) return "Circular dependencies detected: " + *cycle;
    }
    return std::nullopt;
}

void JobState::add_children(Index parent, HandlerOutcome& outcome, TaskGraph::Changes& changes) {
    SpawnEvent event;
    if (options_.record_events) event.child_ids = outcome.child_ids;
    // The graph takes the batch first: it keeps no copy of a generated id, so each id can then
    // move on into its record.
    graph_.add_children(parent, records_[parent].id, outcome.batch, changes);
    records_[parent].children = std::move(outcome.child_ids);  // a task spawns one batch, once
    // The batch joins the job in the step that ends its parent, at the time recorded for that.
    const Timestamp added_at = records_[parent].history.back().at;
    for (std::size_t i = 0; i < outcome.children.size(); ++i) {
        outcome.children[i].id = std::move(outcome.batch[i].id);
        add_record(std::move(outcome.children[i]), outcome.handlers[i], added_at);
    }
    if (options_.record_events) {
        event.parent_id = records_[parent].id;
        log_.events.emplace_back(std::move(event));
    }
}

// --- readiness, stopping, the end ------------------------------------------------------------

void JobState::apply(TaskGraph::Changes& changes, Timestamp now) {
    for (const auto& [task, cause] : changes.aborted) {
        end_unstarted(task, TaskStatus::aborted, fmt::format("Aborted: dependency {} failed", records_[cause].id),
                      now);
    }
    for (const Index task : changes.planned) {
        const HandlerEntry& entry = *handlers_[task];
        end_unstarted(task, TaskStatus::planned,
                      entry.options.side_effect_free
                          ? "Awaiting approval: a dependency is planned"
                          : fmt::format("Awaiting approval: {}/{} has side effects", entry.service, entry.command),
                      now);
    }
    for (const Index task : changes.ready) make_ready(task);
    changes.clear();
}

void JobState::stop(StopCause cause, const std::string& reason, Timestamp now) {
    if (stop_cause_ != StopCause::none) return;
    stop_cause_ = cause;
    stop_reason_ = reason;
    stop_signal_due_ = true;
    ready_.clear();
    if (cause == StopCause::interrupt) {
        // Tasks not started stay pending and retrying ones keep their due time: a resume
        // picks them up as they are.
        retries_.clear();
        return;
    }
    // Every retrying task, whether still waiting for its due time or already due and ready.
    TaskGraph::Changes changes;
    for (Index task = 0; task < records_.size(); ++task) {
        if (records_[task].status != TaskStatus::retrying) continue;
        end_unstarted(task, TaskStatus::aborted, reason, now);
        graph_.finish(task, TaskGraph::Outcome::aborted, changes);
    }
    retries_.clear();
    for (const Index task : graph_.abort_not_started(changes)) end_unstarted(task, TaskStatus::aborted, reason, now);
    apply(changes, now);
}

void JobState::check_end(Timestamp now) {
    if (done_) return;
    if (stop_cause_ == StopCause::interrupt) {
        // Returns once every handler call has come back (or been given up on).
        if (in_flight_ == 0 && open_calls_ == 0) done_ = true;
        return;
    }
    if (graph_.unsettled() > 0 && ready_.empty() && in_flight_ == 0 && retries_.empty()) {
        // Nothing runs, nothing can start, nothing is awaited: the rest can never run.
        std::vector<std::string_view> stranded;
        TaskGraph::Changes changes;
        const auto ended = graph_.abort_not_started(changes);
        for (const Index task : ended) stranded.push_back(records_[task].id);
        if (!stranded.empty()) {
            job_error_ = fmt::format("Deadlock detected: {} tasks cannot execute. Incomplete tasks: {}",
                                     stranded.size(), fmt::join(stranded, ", "));
            if (stop_cause_ == StopCause::none) stop_cause_ = StopCause::deadlock;
            stop_signal_due_ = true;
        }
        for (const Index task : ended)
            end_unstarted(task, TaskStatus::aborted, "Deadlock detected: task cannot execute", now);
        apply(changes, now);
    }
    if (graph_.unsettled() == 0 || (ready_.empty() && in_flight_ == 0 && retries_.empty())) done_ = true;
}

void JobState::rewind_to(const std::vector<std::size_t>& saved_history) {
    // Records are saved in creation order, so the saved ones are the first saved_history.size().
    records_.truncate(std::min(records_.size(), saved_history.size()));
    for (std::size_t i = 0; i < records_.size(); ++i) {
        TaskRecord& record = records_[i];
        if (record.history.size() <= saved_history[i]) continue;
        record.history.resize(saved_history[i]);
        // Everything else a record holds follows from its history.
        record.status = record.history.empty() ? TaskStatus::pending : record.history.back().status;
        record.attempts = static_cast<int>(std::count_if(record.history.begin(), record.history.end(),
                                                         [](const HistoryEntry& entry) {
                                                             return entry.status == TaskStatus::started;
                                                         }));
        record.started_at.reset();
        for (const HistoryEntry& entry : record.history) {
            if (entry.status == TaskStatus::started && !record.started_at) record.started_at = entry.at;
        }
        if (record.status != TaskStatus::retrying) record.next_attempt_at.reset();
        if (!is_final(record.status)) {
            record.completed_at.reset();
            record.output = nullptr;
            record.trace = nullptr;
            record.children.clear();
        }
    }
}

JobResult JobState::take_result(Timestamp completed_at, double wall_ms) {
    JobResult result;
    result.name = name_;
    result.started_at = started_at_;
    result.completed_at = completed_at;

    // By start time, never-started last, then creation order. Within this run the start
    // sequence is exact where the clock's microseconds tie; tasks started by an earlier run have
    // none (0). The keys sit in one array: sorting compares no records.
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
    // Ready tasks start smallest index first, so in many jobs the keys are in order already.
    if (!std::is_sorted(keys.begin(), keys.end())) std::sort(keys.begin(), keys.end());
    std::vector<Index> order;
    order.reserve(keys.size());
    for (const StartKey& key : keys) order.push_back(key.task);
    keys = {};
    result.tasks = records_.take(std::move(order));

    result.stats = count_statuses(result.tasks);
    result.stats.wall_ms = wall_ms;
    result.error_message = job_error_;
    if (stop_cause_ == StopCause::cancel) {
        result.status = JobStatus::cancelled;
    } else if (stop_cause_ == StopCause::interrupt) {
        result.status = JobStatus::interrupted;
        result.error_message = "Job interrupted: resume it to run the rest";
    } else if (job_error_ || result.stats.failed > 0 || result.stats.aborted > 0) {
        result.status = JobStatus::failed;
    } else if (result.stats.planned > 0) {
        result.status = JobStatus::awaiting_approval;
    } else {
        result.status = JobStatus::succeeded;
    }
    result.history.push_back(JobHistoryEntry{JobStatus::running, started_at_, {}});
    result.history.push_back(JobHistoryEntry{result.status, completed_at, result.error_message.value_or("")});
    return result;
}

}  // namespace jobgraph::detail
