#include "run/worker_pool.hpp"

#include "run/spin_wait.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

namespace jobgraph::detail {

WorkerPool::WorkerPool(std::size_t keep_idle, StartThread start_thread, std::chrono::microseconds spin_before_sleep)
    : keep_idle_(keep_idle), start_thread_(std::move(start_thread)), spin_before_sleep_(spin_before_sleep) {
    idle_.reserve(keep_idle_);  // a thread going back never allocates, so never fails
}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard lock(mutex_);
        assert(idle_.size() == workers_.size() && "every crew was waited for");
        closing_ = true;
        for (Worker& worker : workers_) {
            worker.woken.store(true, std::memory_order_release);
            worker.wake.notify_one();
        }
    }
    // Unlocked: the waiting threads return without touching these lists.
    for (Worker& worker : workers_) worker.thread.join();
    for (Worker& worker : ended_) worker.thread.join();
}

void WorkerPool::run(Crew& crew, std::function<void()> task) {
    std::list<Worker> ended;
    {
        std::lock_guard lock(mutex_);
        assert(!closing_);
        if (!idle_.empty()) {
            Worker& worker = *idle_.back();
            idle_.pop_back();
            worker.task = std::move(task);
            worker.crew = &crew;
            worker.woken.store(true, std::memory_order_release);
            worker.wake.notify_one();
        } else {
            // Started under the lock: once listed, the thread may end and be joined by another
            // run, so its handle must be set before anyone can see it. This happens only when
            // runs at once need more threads than are kept.
            Worker& worker = workers_.emplace_back();
            worker.task = std::move(task);
            worker.crew = &crew;
            try {
                auto serve_it = [this, &worker] { serve(worker); };
                worker.thread = start_thread_ ? start_thread_(serve_it) : std::thread(serve_it);
            } catch (...) {
                workers_.pop_back();
                throw;
            }
        }
        ++crew.running_;
        ended.swap(ended_);  // last: nothing after it throws, so no joinable thread is dropped
    }
    for (Worker& worker : ended) worker.thread.join();  // unlocked: they have returned or are about to
}

void WorkerPool::wait(Crew& crew) {
    // The crew's threads are usually on their way back already. The lock is taken even if they
    // are back: the last one tells the crew under it, so the crew outlives that.
    spin_until([&] { return crew.running_.load(std::memory_order_acquire) == 0; }, spin_before_sleep_);
    std::unique_lock lock(mutex_);
    crew.finished_.wait(lock, [&] { return crew.running_ == 0; });
}

std::size_t WorkerPool::size() const {
    std::lock_guard lock(mutex_);
    return workers_.size();
}

void WorkerPool::serve(Worker& worker) {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (!worker.task && !closing_) {  // false only on a new thread's first pass, given its task
            // A program that runs jobs one after another calls again within microseconds.
            spin_unlocked(
                lock, [&] { return worker.woken.load(std::memory_order_acquire); }, spin_before_sleep_);
        }
        worker.wake.wait(lock, [&] { return worker.task || closing_; });
        worker.woken.store(false, std::memory_order_relaxed);
        if (!worker.task) return;
        std::function<void()> task = std::exchange(worker.task, nullptr);
        lock.unlock();
        task();
        task = nullptr;  // its captures go before the crew hears of the end
        lock.lock();
        // Back among the waiting before the crew is told: the run that follows finds it there.
        const bool stays = idle_.size() < keep_idle_;
        if (stays) idle_.push_back(&worker);
        Crew& crew = *std::exchange(worker.crew, nullptr);
        // Notified under the lock: the crew's owner may destroy it as soon as it can lock.
        if (--crew.running_ == 0) crew.finished_.notify_all();
        if (!stays) {
            const auto mine = std::find_if(workers_.begin(), workers_.end(),
                                           [&](const Worker& listed) { return &listed == &worker; });
            ended_.splice(ended_.end(), workers_, mine);
            return;
        }
    }
}

}  // namespace jobgraph::detail
