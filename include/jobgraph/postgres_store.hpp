#pragma once
/// @file postgres_store.hpp
/// @brief A job store in a PostgreSQL database (docs/store.md). Built when jobgraph is
/// configured with JOBGRAPH_WITH_POSTGRES (the default where libpq is found); then
/// jobgraph/version.hpp defines JOBGRAPH_HAS_POSTGRES.

#include "jobgraph/store.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace jobgraph {

/// @brief Keeps jobs in PostgreSQL (version 12 or later), so that several processes and
/// machines can share them. Same behaviour as SqliteStore; every write is one committed
/// transaction. Its tables (`jobgraph_*`) live in the connection's current schema, created on
/// first use; a database whose tables have a newer schema version is refused.
///
/// @code
/// jobgraph::PostgresStore store("postgresql://jobs@db.internal/jobgraph");
/// const std::string id = store.create_job(spec);
/// const auto result = orchestrator.resume(id, store);
/// @endcode
class PostgresStore final : public JobStore {
public:
    /// @brief Connects with a libpq connection string: a `postgres://` or `postgresql://` URL,
    /// or keywords such as "host=/run/postgresql dbname=jobs". Unset parts come from the PG*
    /// environment variables and passwords from ~/.pgpass, as with psql. Creates the tables if
    /// they are missing; throws StoreError if it cannot connect or the schema is newer.
    explicit PostgresStore(const std::string& conninfo);
    ~PostgresStore() override;
    PostgresStore(const PostgresStore&) = delete;
    PostgresStore& operator=(const PostgresStore&) = delete;

    /// @brief The schema version this build reads and writes.
    static int schema_version() noexcept;

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
