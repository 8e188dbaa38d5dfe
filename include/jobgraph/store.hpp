#pragma once
/// @file store.hpp
/// @brief Durable job state, so that a job can resume after a crash (docs/semantics.md).

#include "jobgraph/result.hpp"
#include "jobgraph/spec.hpp"
#include "jobgraph/task_record.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobgraph {

/// @brief A job as a store holds it.
struct StoredJob {
    std::string id{};
    JobSpec spec{};
    /// Every task record in creation order (roots first, then each batch as it was added).
    std::vector<TaskRecord> tasks{};
    /// Set once the run ended; a job with a result is finished.
    std::optional<JobResult> result{};
};

/// @brief One task record to write, with how much of its history the store holds already.
struct TaskWrite {
    std::size_t position = 0;          ///< the task's place in creation order within the job
    const TaskRecord* record = nullptr;
    std::size_t saved_history = 0;     ///< entries of record->history already stored; 0 for a new task
};

/// @brief A store failed (cannot open, corrupt, unknown job, I/O error). what() says which.
class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// @brief Another live process holds the job (its lease is current). what() names the holder.
class JobBusyError : public StoreError {
public:
    using StoreError::StoreError;
};

/// @brief Who holds a stored job while running it.
struct LeaseHolder {
    std::string id{};    ///< unique per run, e.g. "<host>:<pid>:<random>"
    std::string host{};  ///< the machine's name
    std::int64_t pid = 0;

    /// @brief A holder for this process with a fresh id.
    static LeaseHolder for_this_process();
    bool operator==(const LeaseHolder&) const = default;
};

/// @brief What a renewal of a lease learnt.
struct LeaseRenewal {
    bool held = true;                           ///< false: the lease was taken over; stop at once
    std::optional<std::string> cancel_reason{}; ///< set once JobStore::request_cancel was called
};

/// @brief One line of a store's job listing.
struct JobSummary {
    std::string id{};
    std::string name{};
    /// "pending" (never ran), "running" (a live holder), or the last run's job status.
    std::string status{};
    std::size_t done = 0;   ///< tasks in a final status
    std::size_t total = 0;
    Timestamp created_at{};
    Timestamp updated_at{};
};

/// @brief Where jobs are kept. Implementations must be safe to call from several threads.
class JobStore {
public:
    virtual ~JobStore() = default;

    /// @brief Records a new job and returns its id (unique within the store).
    virtual std::string create_job(const JobSpec& spec) = 0;
    /// @brief Writes these task records in one committed transaction: new tasks whole, known
    /// ones by their changed fields and the history entries past `saved_history` (history is
    /// only ever appended to).
    virtual void save_tasks(std::string_view job_id, std::span<const TaskWrite> tasks) = 0;
    /// @brief Writes the job's final result; from then on the job counts as finished.
    virtual void save_result(std::string_view job_id, const JobResult& result) = 0;
    /// @brief Clears a previous result so the job can run again (after an approval).
    virtual void clear_result(std::string_view job_id) = 0;
    /// @brief The job with this id, or nullopt if the store has none.
    virtual std::optional<StoredJob> load(std::string_view job_id) const = 0;
    /// @brief Ids of every job in the store, oldest first.
    virtual std::vector<std::string> job_ids() const = 0;
    /// @brief Every job, newest first.
    virtual std::vector<JobSummary> list_jobs() const = 0;

    /// @brief Takes the job for @p holder for @p duration. Throws JobBusyError naming the
    /// holder if a live one holds it; takes over a lease that expired, or whose holder was a
    /// process of this machine that has exited.
    virtual void acquire_lease(std::string_view job_id, const LeaseHolder& holder,
                               std::chrono::milliseconds duration) = 0;
    /// @brief Extends the holder's lease and reports whether a cancel was requested.
    virtual LeaseRenewal renew_lease(std::string_view job_id, const LeaseHolder& holder,
                                     std::chrono::milliseconds duration) = 0;
    /// @brief Gives the job up, if @p holder still holds it.
    virtual void release_lease(std::string_view job_id, const LeaseHolder& holder) = 0;
    /// @brief Asks for the job to be cancelled: a run holding it notices at its next renewal.
    virtual void request_cancel(std::string_view job_id, std::string_view reason) = 0;
};

/// @brief Approves a job's planned tasks: each becomes pending again (its history says it was
/// approved) and the job's result is cleared, so that Orchestrator::resume runs them. Children
/// they spawn are again planned if plan mode says so. Returns how many tasks were approved.
std::size_t approve_planned(JobStore& store, std::string_view job_id);

/// @brief Which planned tasks of a stored job to approve and which to reject.
struct ApprovalDecision {
    /// Ids to approve; empty means every planned task that is not rejected (nor waits on
    /// rejected work). Planned tasks without side effects that were planned only because they
    /// wait on planned work are approved with it, once all the planned work they wait on is.
    std::vector<std::string> approve{};
    /// Ids to reject: each ends `aborted` ("Rejected: <reason>"), and tasks that wait on it end
    /// `aborted` ("Aborted: dependency <id> failed").
    std::vector<std::string> reject{};
    std::string reason{};
};

/// @brief Approves and rejects planned tasks as @p decision says, in one write, and clears the
/// job's result if anything changed so that Orchestrator::resume runs what was approved. Throws
/// StoreError naming them if an id is not a planned task of the job (nothing changes then), and
/// JobBusyError if a live process holds the job. Returns how many tasks were approved.
std::size_t approve_planned(JobStore& store, std::string_view job_id, const ApprovalDecision& decision);

/// @brief The job as it stands, without running it: its saved result if it has one, else a
/// result built from its task records with status `running` and the stats counted (a job that
/// never ran shows its initial tasks as pending).
JobResult snapshot_of(const StoredJob& job);

/// @brief The embedded default: one SQLite file, written in WAL mode, every write a
/// committed transaction. Several SqliteStore objects (or processes) may share a file.
class SqliteStore final : public JobStore {
public:
    /// @brief Opens or creates the file; throws StoreError if it cannot.
    explicit SqliteStore(const std::filesystem::path& file);
    ~SqliteStore() override;
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    std::string create_job(const JobSpec& spec) override;
    void save_tasks(std::string_view job_id, std::span<const TaskWrite> tasks) override;
    void save_result(std::string_view job_id, const JobResult& result) override;
    void clear_result(std::string_view job_id) override;
    std::optional<StoredJob> load(std::string_view job_id) const override;
    std::vector<std::string> job_ids() const override;
    std::vector<JobSummary> list_jobs() const override;
    void acquire_lease(std::string_view job_id, const LeaseHolder& holder, std::chrono::milliseconds duration) override;
    LeaseRenewal renew_lease(std::string_view job_id, const LeaseHolder& holder,
                             std::chrono::milliseconds duration) override;
    void release_lease(std::string_view job_id, const LeaseHolder& holder) override;
    void request_cancel(std::string_view job_id, std::string_view reason) override;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace jobgraph
