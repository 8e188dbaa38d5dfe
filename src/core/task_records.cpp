#include "core/task_records.hpp"

#include <utility>

namespace jobgraph::detail {

void TaskRecords::truncate(std::size_t size) {
    if (size <= flat_.size()) {
        more_.clear();
        flat_.erase(flat_.begin() + static_cast<std::ptrdiff_t>(size), flat_.end());
    } else if (size < this->size()) {
        more_.resize(size - flat_.size());
    }
}

std::vector<TaskRecord> TaskRecords::take(std::vector<std::uint32_t> order) {
    std::vector<TaskRecord> taken;
    if (!more_.empty()) {
        taken.reserve(order.size());
        for (const std::uint32_t task : order) taken.push_back(std::move((*this)[task]));
        flat_.clear();
        more_.clear();
        return taken;
    }
    // Sort the array in place, one cycle of the permutation at a time, and hand it over.
    std::vector<std::uint32_t>& source = order;  // source[i]: the record that goes to i
    for (std::size_t first = 0; first < source.size(); ++first) {
        if (source[first] == first) continue;
        TaskRecord held = std::move(flat_[first]);
        std::size_t position = first;
        while (source[position] != first) {
            const std::size_t from = std::exchange(source[position], static_cast<std::uint32_t>(position));
            flat_[position] = std::move(flat_[from]);
            position = from;
        }
        source[position] = static_cast<std::uint32_t>(position);
        flat_[position] = std::move(held);
    }
    taken = std::move(flat_);
    flat_ = {};
    return taken;
}

}  // namespace jobgraph::detail
