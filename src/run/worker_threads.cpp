#include "run/worker_threads.hpp"

#include "run/spin_wait.hpp"

#include <cassert>
#include <utility>

namespace jobgraph::detail {

WorkerThreads::WorkerThreads(WorkerPool& pool, std::size_t count, Prepare prepare)
    : pool_(pool),
      count_(count),
      prepare_(std::move(prepare)),
      wake_(std::make_unique<std::condition_variable[]>(count)) {
    try {
        for (std::size_t i = 0; i < count; ++i) pool_.run(crew_, [this, i] { wait_and_work(i); });
    } catch (...) {
        join();  // the threads already lent would otherwise wait for ever
        throw;
    }
}

WorkerThreads::~WorkerThreads() {
    join();
}

void WorkerThreads::start(Work work) {
    {
        std::lock_guard lock(mutex_);
        assert(!work_ && work && "start() is called once, with work");
        work_ = std::move(work);
    }
    released_.store(true, std::memory_order_release);
    wake_all();
}

void WorkerThreads::join() {
    {
        std::lock_guard lock(mutex_);
        dismissed_ = true;  // for threads not given work; those given it run it to its end
    }
    released_.store(true, std::memory_order_release);
    wake_all();
    pool_.wait(crew_);
}

void WorkerThreads::wake_all() {
    for (std::size_t i = 0; i < count_; ++i) wake_[i].notify_all();
}

void WorkerThreads::wait_and_work(std::size_t worker) {
    // Readying a heap (tidy_thread_heap) takes about 10 ms per thread after a job of 100,000
    // tasks: done here, it overlaps the job's validation on the calling thread. One thread at a
    // time meanwhile: all at once they would crowd the caller out of its core (on two cores,
    // three busy threads), and the job would start no sooner. Once the job runs, the threads
    // still to prepare do so at once.
    std::condition_variable& wake = wake_[worker];
    std::unique_lock lock(mutex_);
    wake.wait(lock, [&] { return turns_taken_ == worker || work_ || dismissed_; });
    if (!dismissed_) {
        lock.unlock();
        prepare_();
        lock.lock();
    }
    ++turns_taken_;
    if (worker + 1 < count_) wake_[worker + 1].notify_one();
    if (!work_ && !dismissed_) {
        // The caller is validating the job: a small job is about to start. While the next
        // thread prepares, this poll makes a third busy thread, for spin_before_sleep at most.
        spin_unlocked(
            lock, [this] { return released_.load(std::memory_order_acquire); }, pool_.spin_before_sleep());
    }
    wake.wait(lock, [this] { return work_ || dismissed_; });
    if (!work_) return;
    lock.unlock();
    work_(worker);  // unlocked: work_ is set once, before any thread reads it here
}

}  // namespace jobgraph::detail
