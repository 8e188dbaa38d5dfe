#pragma once
// A job's task records, in creation order, each at an address that never changes while the
// job runs: a handler reads its record in place while spawned tasks are added behind it.
//
// The records sit in one array reserved for the job's maxTasks, which a job never exceeds, so
// that the result can take the array over, sorted in place: no second copy of every record
// at the end of a run (peak memory) and no fresh pages to fault in (time). A job allowed more
// tasks than `flat_limit` reserves that many and keeps the rest in a deque, whose elements
// never move either; its result is then built by moving.

#include "jobgraph/task_record.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace jobgraph::detail {

class TaskRecords {
public:
    /// Records beyond which the array is not reserved: 1,048,576 of about 400 bytes, address
    /// space only until used.
    static constexpr std::size_t flat_limit = std::size_t{1} << 20;

    explicit TaskRecords(std::size_t max_tasks) { flat_.reserve(max_tasks < flat_limit ? max_tasks : flat_limit); }

    std::size_t size() const noexcept { return flat_.size() + more_.size(); }
    TaskRecord& operator[](std::size_t i) noexcept { return i < flat_.size() ? flat_[i] : more_[i - flat_.size()]; }
    const TaskRecord& operator[](std::size_t i) const noexcept {
        return i < flat_.size() ? flat_[i] : more_[i - flat_.size()];
    }

    void push_back(TaskRecord&& record) {
        if (more_.empty() && flat_.size() < flat_.capacity()) {
            flat_.push_back(std::move(record));  // within the reservation: nothing moves
        } else {
            more_.push_back(std::move(record));
        }
    }
    /// Drops the records from @p size on.
    void truncate(std::size_t size);
    /// Every record, in @p order (a permutation of the indices, used up), leaving none behind.
    std::vector<TaskRecord> take(std::vector<std::uint32_t> order);

private:
    std::vector<TaskRecord> flat_;
    std::deque<TaskRecord> more_;
};

}  // namespace jobgraph::detail
