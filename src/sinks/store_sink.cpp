#include "sinks/store_sink.hpp"

#include <exception>
#include <utility>

namespace jobgraph::detail {

StoreSink::StoreSink(JobStore& store, std::string job_id, std::vector<std::size_t> saved_history)
    : store_(store), job_id_(std::move(job_id)), saved_history_(std::move(saved_history)) {}

bool StoreSink::save(const JobState& state, const ChangeLog& changes) {
    if (failed()) return false;
    if (changes.tasks.empty()) return true;
    writes_.clear();
    for (const JobState::Index task : changes.tasks) {
        const std::size_t saved = task < saved_history_.size() ? saved_history_[task] : 0;
        writes_.push_back(TaskWrite{task, &state.record(task), saved});
    }
    try {
        store_.save_tasks(job_id_, writes_);
    } catch (const std::exception& error) {
        error_ = error.what();
        return false;
    }
    for (const TaskWrite& write : writes_) {
        if (write.position >= saved_history_.size()) saved_history_.resize(write.position + 1, 0);
        saved_history_[write.position] = write.record->history.size();
    }
    return true;
}

void StoreSink::save_result(const JobResult& result) {
    store_.save_result(job_id_, result);
}

}  // namespace jobgraph::detail
