#pragma once
// The tasks ready to start, handed out smallest index (creation order) first.
//
// Task indices are dense, so the set is a bitmap with a summary bitmap over its words: a push
// or a pop touches a word or two. It replaced a binary heap, whose pop walked about 17 levels of
// cold cache lines when a fan-out made 100,000 tasks ready at once, all under the job's lock.
// A pop scans summary words from the lowest that may be set; each covers 4,096 tasks, so even
// after a push far below the rest it reads at most one word per 4,096 tasks of the job.

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace jobgraph::detail {

class ReadyQueue {
public:
    using Index = std::uint32_t;

    /// Room for tasks 0 .. @p tasks - 1 without growing under the lock.
    void reserve(std::size_t tasks) {
        words_.reserve(words_for(tasks));
        summary_.reserve(words_for(words_for(tasks)));
    }

    /// Adds @p task, which must not be in the queue already.
    void push(Index task) {
        const std::size_t word = task / bits;
        if (word >= words_.size()) {
            words_.resize(word + 1);
            summary_.resize(words_for(words_.size()));
        }
        assert((words_[word] & bit(task)) == 0 && "a task is ready once");
        if (words_[word] & bit(task)) return;  // without asserts: changes nothing, size_ stays true
        words_[word] |= bit(task);
        summary_[word / bits] |= bit(word);
        lowest_summary_ = std::min(lowest_summary_, word / bits);
        ++size_;
    }

    /// The smallest task, left in the queue. The queue must not be empty.
    Index front() {
        assert(size_ > 0);
        // Summary words below lowest_summary_ are all zero; skip the ones emptied since.
        while (summary_[lowest_summary_] == 0) ++lowest_summary_;
        const std::size_t word = lowest_summary_ * bits + std::countr_zero(summary_[lowest_summary_]);
        return static_cast<Index>(word * bits + std::countr_zero(words_[word]));
    }

    /// Removes and returns the smallest task. The queue must not be empty.
    Index pop() {
        const Index task = front();
        const std::size_t word = task / bits;
        words_[word] &= words_[word] - 1;  // clears the lowest set bit: task's
        if (words_[word] == 0) summary_[word / bits] &= ~bit(word);
        --size_;
        return task;
    }

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }

    /// Empties the queue, keeping its room.
    void clear() noexcept {
        std::fill(words_.begin(), words_.end(), 0);
        std::fill(summary_.begin(), summary_.end(), 0);
        lowest_summary_ = 0;
        size_ = 0;
    }

private:
    static constexpr std::size_t bits = 64;
    static constexpr std::size_t words_for(std::size_t count) { return (count + bits - 1) / bits; }
    static constexpr std::uint64_t bit(std::size_t position) { return std::uint64_t{1} << (position % bits); }

    std::vector<std::uint64_t> words_;    // bit t % 64 of words_[t / 64]: task t is ready
    std::vector<std::uint64_t> summary_;  // bit w % 64 of summary_[w / 64]: words_[w] is not 0
    std::size_t lowest_summary_ = 0;      // every summary word below it is 0
    std::size_t size_ = 0;
};

}  // namespace jobgraph::detail
