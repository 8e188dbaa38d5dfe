#pragma once
/// @file orchestrator.hpp
/// @brief Runs jobs: validates them, then runs every task the moment its dependencies are met.

#include "jobgraph/observer.hpp"
#include "jobgraph/registry.hpp"
#include "jobgraph/result.hpp"
#include "jobgraph/run_control.hpp"
#include "jobgraph/spec.hpp"
#include "jobgraph/store.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobgraph {

namespace detail {
struct Preparation;
class WorkerPool;
class HandlerSlots;
}  // namespace detail

/// @brief How an orchestrator runs jobs.
struct OrchestratorOptions {
    /// Worker threads per run; 0 means std::thread::hardware_concurrency().
    std::size_t workers = 0;
    /// Only for testing the deadlock safety net: accept batches without checking for cycles.
    bool unsafe_skip_cycle_check = false;
    /// How long a thread that waits on the next step of a run polls (spins) for it before it
    /// sleeps: the kept workers waiting for the next run, and the caller waiting for them to
    /// come back once the job has ended. Sleeping and being
    /// woken costs several to tens of microseconds (more under a hypervisor), much of what a
    /// small job takes; a polling thread keeps its core busy meanwhile, yielding it now and
    /// then. Zero or less: sleep at once. Only where the CPU has a pause instruction (x86);
    /// elsewhere the threads never poll.
    std::chrono::microseconds spin_before_sleep{100};
    /// How long a stopping run (cancel, interrupt, job timeout, abort) waits for an asynchronous
    /// task's Completion before it ends the task `aborted` ("Did not stop within <g> ms") and
    /// ignores the late completion. Synchronous handlers are always waited for.
    std::chrono::milliseconds grace_period{5000};
    /// With a store: how long the run's hold on the job (its lease) lasts unless renewed, and
    /// how often it is renewed and the store is asked whether the job was cancelled.
    std::chrono::milliseconds lease_duration{15000};
    std::chrono::milliseconds heartbeat{500};
    /// Seeds the retry jitter; 0 draws a seed from std::random_device.
    unsigned long long jitter_seed = 0;
};

/// @brief Runs jobs against a handler registry. Each run() or resume() validates the job, then
/// takes its worker threads and gives them back before returning. The orchestrator keeps `workers` threads between runs (asleep once
/// `spin_before_sleep` has passed), so that a small job does not pay for starting threads.
/// Several runs may proceed at once from different threads (a handler may run a job too); a
/// run that finds no thread waiting starts its own, and those beyond `workers` end once it is
/// done. The registry must outlive the orchestrator and must not change while a run is on; the
/// orchestrator must outlive its runs.
class Orchestrator {
public:
    explicit Orchestrator(const HandlerRegistry& registry, OrchestratorOptions options = {});
    /// Ends the kept worker threads: their thread_local objects are destroyed then.
    ~Orchestrator();
    /// A moved-from orchestrator may only be destroyed.
    Orchestrator(Orchestrator&&) noexcept;
    Orchestrator(const Orchestrator&) = delete;
    Orchestrator& operator=(const Orchestrator&) = delete;

    /// @brief Runs a job to its end. An invalid spec runs nothing and comes back `failed`
    /// with an errorMessage listing every problem.
    /// @p control, if given, can cancel or interrupt the run from another thread.
    JobResult run(const JobSpec& job, JobObserver* observer = nullptr, RunControl* control = nullptr) const;
    /// @brief Same, taking the spec's inputs instead of copying them.
    JobResult run(JobSpec&& job, JobObserver* observer = nullptr, RunControl* control = nullptr) const;
    /// @brief Same, from the contract's JSON form; problems of shape are listed with the rest.
    JobResult run(const nlohmann::json& job, JobObserver* observer = nullptr, RunControl* control = nullptr) const;

    /// @brief Runs a job kept in @p store (see JobStore::create_job): from the start if it never
    /// ran, else from where it stopped. Finished tasks keep their outcome and their handlers are
    /// not called again; a task that had started but not finished runs again (at least once).
    /// A job that already ended returns its stored result and runs nothing. Every change is
    /// committed to the store before it is reported. Throws StoreError for an unknown job, and
    /// JobBusyError if another live process holds the job.
    ///
    /// The run holds the job in the store (a lease, renewed every `heartbeat`) and notices a
    /// cancel requested through the store (JobStore::request_cancel) within a heartbeat. A
    /// cancelled job returns its stored result; an interrupted one runs on.
    JobResult resume(std::string_view job_id, JobStore& store, JobObserver* observer = nullptr,
                     RunControl* control = nullptr) const;

    /// @brief Every problem that would stop the job from running; empty if it is valid. Reads
    /// @p job without copying it.
    std::vector<std::string> validate(const JobSpec& job) const;
    /// @brief Same, from JSON, shape problems included.
    std::vector<std::string> validate(const nlohmann::json& job) const;

    /// @brief The worker count each run uses.
    std::size_t workers() const noexcept { return workers_; }

private:
    JobResult run_prepared(detail::Preparation preparation, std::string name, JobObserver* observer,
                           RunControl* control, JobStore* store = nullptr, std::string job_id = {},
                           std::vector<TaskRecord> restored = {}, std::optional<LeaseHolder> lease = {}) const;

    const HandlerRegistry& registry_;
    std::size_t workers_;
    OrchestratorOptions options_;
    std::unique_ptr<detail::WorkerPool> pool_;  // the threads kept between runs
    std::unique_ptr<detail::HandlerSlots> handler_slots_;  // HandlerOptions::max_concurrency, across runs
};

}  // namespace jobgraph
