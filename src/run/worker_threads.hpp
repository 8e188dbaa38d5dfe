#pragma once
// A run's worker threads, taken from the orchestrator's pool before its job is validated so
// that their start-up work overlaps the validation on the calling thread.

#include "run/thread_heap.hpp"
#include "run/worker_pool.hpp"

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>

namespace jobgraph::detail {

class WorkerThreads {
public:
    using Work = std::function<void(std::size_t worker)>;
    using Prepare = std::function<void()>;  // must not throw

    /// Takes @p count threads from @p pool. Each first calls @p prepare (by default it readies
    /// its part of the heap: tidy_thread_heap), one thread at a time until start() is called
    /// and all at once after; each then waits for start() or for join().
    WorkerThreads(WorkerPool& pool, std::size_t count, Prepare prepare = tidy_thread_heap);
    /// Gives the threads back (see join()).
    ~WorkerThreads();

    WorkerThreads(const WorkerThreads&) = delete;
    WorkerThreads& operator=(const WorkerThreads&) = delete;

    std::size_t size() const noexcept { return count_; }

    /// Runs work(i) on thread i, for every thread. Call at most once; @p work must outlive join().
    void start(Work work);
    /// Waits until every thread is back in the pool. Threads not given work by now go back
    /// without any, once done with a prepare already under way; those still waiting their turn
    /// skip it.
    void join();

private:
    void wait_and_work(std::size_t worker);

    void wake_all();  // with mutex_ released

    WorkerPool& pool_;
    const std::size_t count_;
    const Prepare prepare_;
    std::mutex mutex_;
    // One per thread: a turn ending wakes only the next thread, not every one still waiting.
    std::unique_ptr<std::condition_variable[]> wake_;
    Work work_;
    bool dismissed_ = false;
    std::atomic<bool> released_{false};  // work_ or dismissed_ is set: for polling without mutex_
    std::size_t turns_taken_ = 0;  // threads past their turn to prepare
    WorkerPool::Crew crew_;        // the threads lent to this run
};

}  // namespace jobgraph::detail
