#include "jobgraph/orchestrator.hpp"

#include "model/json_limits.hpp"
#include "run/handler_slots.hpp"
#include "run/job_execution.hpp"
#include "run/run_control_state.hpp"
#include "run/worker_pool.hpp"
#include "spec/prepared_job.hpp"
#include "spec/spec_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

namespace jobgraph {
namespace {

JobResult rejected(std::string name, const std::vector<std::string>& problems, JobObserver* observer) {
    JobResult result;
    result.name = std::move(name);
    result.status = JobStatus::failed;
    result.error_message = fmt::format("Job validation failed:\n{}", fmt::join(problems, "\n"));
    result.started_at = now_utc();
    result.completed_at = result.started_at;
    result.history.push_back(JobHistoryEntry{JobStatus::failed, result.completed_at, *result.error_message});
    if (observer) {
        try {
            observer->on_job_finished(result);
        } catch (...) {  // the run is over: nothing is left for the observer to spoil
        }
    }
    return result;
}

}  // namespace

Orchestrator::Orchestrator(const HandlerRegistry& registry, OrchestratorOptions options)
    : registry_(registry),
      workers_(options.workers > 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency())),
      options_(options),
      pool_(std::make_unique<detail::WorkerPool>(workers_, detail::WorkerPool::StartThread{},
                                                 options.spin_before_sleep)),
      handler_slots_(std::make_unique<detail::HandlerSlots>()) {}

Orchestrator::~Orchestrator() = default;
Orchestrator::Orchestrator(Orchestrator&&) noexcept = default;

JobResult Orchestrator::run(const JobSpec& job, JobObserver* observer, RunControl* control) const {
    // Copying an input nested too deep would overflow the stack: such a spec is refused first.
    for (const TaskSpec& task : job.tasks) {
        if (detail::depth_exceeds(task.input)) {
            return run_prepared(detail::Preparation{detail::validation_problems(job, registry_), std::nullopt},
                                job.name, observer, control);
        }
    }
    return run_prepared(detail::prepare_job(job, registry_), job.name, observer, control);
}

JobResult Orchestrator::run(JobSpec&& job, JobObserver* observer, RunControl* control) const {
    std::string name = job.name;
    return run_prepared(detail::prepare_job(std::move(job), registry_), std::move(name), observer, control);
}

JobResult Orchestrator::run(const nlohmann::json& job, JobObserver* observer, RunControl* control) const {
    std::vector<std::string> problems;
    JobSpec spec = detail::read_job(job, problems);
    std::string name = spec.name;
    return run_prepared(detail::prepare_job(std::move(spec), registry_, std::move(problems)), std::move(name),
                        observer, control);
}

namespace {

// Gives the job back on every way out of a run that holds it.
class LeaseRelease {
public:
    LeaseRelease(JobStore& store, std::string_view job_id, const LeaseHolder& holder)
        : store_(store), job_id_(job_id), holder_(holder) {}
    LeaseRelease(const LeaseRelease&) = delete;
    LeaseRelease& operator=(const LeaseRelease&) = delete;
    ~LeaseRelease() {
        try {
            store_.release_lease(job_id_, holder_);
        } catch (...) {  // the lease then expires on its own
        }
    }

private:
    JobStore& store_;
    std::string_view job_id_;
    const LeaseHolder& holder_;
};

// A stored result that a resume returns as it is: any but an interrupted run's.
bool finished(const std::optional<JobResult>& result) {
    return result && result->status != JobStatus::interrupted;
}

}  // namespace

JobResult Orchestrator::resume(std::string_view job_id, JobStore& store, JobObserver* observer,
                               RunControl* control) const {
    std::optional<StoredJob> stored = store.load(job_id);
    if (!stored) throw StoreError(fmt::format("No job {} in the store", job_id));
    if (finished(stored->result)) return std::move(*stored->result);

    const LeaseHolder holder = LeaseHolder::for_this_process();
    store.acquire_lease(job_id, holder, options_.lease_duration);  // throws JobBusyError
    const LeaseRelease release(store, job_id, holder);
    // Read again under the lease: another process may have run it meanwhile.
    stored = store.load(job_id);
    if (!stored) throw StoreError(fmt::format("No job {} in the store", job_id));
    if (finished(stored->result)) return std::move(*stored->result);
    // A cancel requested while nobody ran the job takes effect before anything starts.
    RunControl own_control;
    if (!control) control = &own_control;
    if (auto cancel = store.renew_lease(job_id, holder, options_.lease_duration).cancel_reason) {
        control->cancel(std::move(*cancel));
    }

    std::string name = stored->spec.name;
    const std::size_t roots = stored->spec.tasks.size();
    // Moved, not copied: records come from the store, or from the spec if none were stored.
    auto preparation = detail::prepare_job(std::move(stored->spec), registry_);
    // Spawned tasks still to run need their handlers in this process too.
    for (std::size_t i = roots; i < stored->tasks.size(); ++i) {
        const TaskRecord& task = stored->tasks[i];
        if (!is_final(task.status) && !registry_.find(task.service, task.command)) {
            preparation.problems.push_back(
                fmt::format("Task {}: {}", task.id, registry_.unknown_pair_message(task.service, task.command)));
        }
    }
    if (!preparation.problems.empty()) preparation.job.reset();
    return run_prepared(std::move(preparation), std::move(name), observer, control, &store, std::string(job_id),
                        std::move(stored->tasks), holder);
}

JobResult Orchestrator::run_prepared(detail::Preparation preparation, std::string name, JobObserver* observer,
                                     RunControl* control, JobStore* store, std::string job_id,
                                     std::vector<TaskRecord> restored, std::optional<LeaseHolder> lease) const {
    if (!preparation.job) return rejected(std::move(name), preparation.problems, observer);
    detail::ExecutionSettings settings{.check_cycles = !options_.unsafe_skip_cycle_check,
                                       .observer = observer,
                                       .store = store,
                                       .job_id = std::move(job_id),
                                       .control = control ? control->state() : nullptr,
                                       .handler_slots = handler_slots_.get(),
                                       .grace_period = options_.grace_period,
                                       .jitter_seed = options_.jitter_seed,
                                       .lease = std::move(lease),
                                       .lease_duration = options_.lease_duration,
                                       .heartbeat = options_.heartbeat,
                                       .spin_before_sleep = options_.spin_before_sleep};
    settings.saved_history.reserve(restored.size());
    for (const TaskRecord& task : restored) settings.saved_history.push_back(task.history.size());
    auto run = std::make_shared<detail::JobExecution>(registry_, std::move(*preparation.job), std::move(settings),
                                                      std::move(restored));
    return run->execute(*pool_, workers_);
}

std::vector<std::string> Orchestrator::validate(const JobSpec& job) const {
    return detail::validation_problems(job, registry_);
}

std::vector<std::string> Orchestrator::validate(const nlohmann::json& job) const {
    std::vector<std::string> problems;
    JobSpec spec = detail::read_job(job, problems);
    return detail::prepare_job(std::move(spec), registry_, std::move(problems)).problems;
}

}  // namespace jobgraph
