#pragma once
// The store as an output of a run: after each batch of changes, under the job's lock, it
// commits every changed record in one transaction, appending only the history entries the
// store does not have yet. Once a commit fails it saves nothing more, and remembers what the
// store holds so that the run's result can be put back to agree with it.

#include "core/job_state.hpp"

#include "jobgraph/store.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace jobgraph::detail {

class StoreSink {
public:
    /// @p saved_history: how many history entries the store holds for each task it has, in
    /// creation order (empty for a job that never ran).
    StoreSink(JobStore& store, std::string job_id, std::vector<std::size_t> saved_history);

    /// Commits the records listed in @p changes. False if the store failed (now or before):
    /// error() says why, and nothing in @p changes reached it.
    bool save(const JobState& state, const ChangeLog& changes);
    /// From now on nothing is saved, as after a failed commit.
    void fail(std::string error) {
        if (!error_) error_ = std::move(error);
    }
    /// Records the job's final result.
    void save_result(const JobResult& result);

    bool failed() const noexcept { return error_.has_value(); }
    const std::optional<std::string>& error() const noexcept { return error_; }
    /// History entries the store holds, by task in creation order.
    const std::vector<std::size_t>& saved_history() const noexcept { return saved_history_; }

private:
    JobStore& store_;
    const std::string job_id_;
    std::vector<std::size_t> saved_history_;
    std::vector<TaskWrite> writes_;  // reused: one batch's writes
    std::optional<std::string> error_;
};

}  // namespace jobgraph::detail
