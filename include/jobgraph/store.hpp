#pragma once
/// @file store.hpp
/// @brief Durable job state, so that a job can resume after a crash (docs/semantics.md).

#include "jobgraph/result.hpp"
#include "jobgraph/spec.hpp"
#include "jobgraph/task_record.hpp"

#include <cstddef>
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
};

/// @brief Approves a job's planned tasks: each becomes pending again (its history says it was
/// approved) and the job's result is cleared, so that Orchestrator::resume runs them. Children
/// they spawn are again planned if plan mode says so. Returns how many tasks were approved.
std::size_t approve_planned(JobStore& store, std::string_view job_id);

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

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace jobgraph
