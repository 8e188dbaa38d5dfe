#include "worker_pool.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

namespace jobgraph::detail {

WorkerPool::WorkerPool(std::size_t keep_idle) : keep_idle_(keep_idle) {}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard lock(mutex_);
        closing_ = true;
        for (const auto& worker : workers_) worker->wake.notify_one();
    }
    // Unlocked: a closing pool's threads return without touching these lists.
    for (const auto& worker : workers_) worker->thread.join();
    for (const auto& worker : ended_) worker->thread.join();
}

void WorkerPool::run(Crew& crew, std::function<void()> task) {
    std::vector<std::unique_ptr<Worker>> ended;
    {
        std::lock_guard lock(mutex_);
        assert(!closing_);
        ended.swap(ended_);
        if (!idle_.empty()) {
            Worker& worker = *idle_.back();
            idle_.pop_back();
            worker.task = std::move(task);
            worker.crew = &crew;
            worker.wake.notify_one();
        } else {
            auto worker = std::make_unique<Worker>();
            worker->task = std::move(task);
            worker->crew = &crew;
            Worker& started = *worker;
            workers_.push_back(std::move(worker));
            try {
                started.thread = std::thread([this, &started] { serve(started); });
            } catch (...) {
                workers_.pop_back();
                throw;
            }
        }
        ++crew.running_;
    }
    for (const auto& worker : ended) worker->thread.join();  // unlocked: they have returned or are about to
}

void WorkerPool::wait(Crew& crew) {
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
        worker.wake.wait(lock, [&] { return worker.task || closing_; });
        if (!worker.task) return;
        std::function<void()> task = std::exchange(worker.task, nullptr);
        lock.unlock();
        task();
        task = nullptr;  // its captures go before the crew hears of the end
        lock.lock();
        // Back among the waiting before the crew is told: the run that follows finds it there.
        Crew& crew = *std::exchange(worker.crew, nullptr);
        const bool stays = idle_.size() < keep_idle_ || closing_;
        if (stays && !closing_) idle_.push_back(&worker);
        // Notified under the lock: the crew's owner may destroy it as soon as it can lock.
        if (--crew.running_ == 0) crew.finished_.notify_all();
        if (!stays) {
            const auto mine =
                std::find_if(workers_.begin(), workers_.end(), [&](const auto& kept) { return kept.get() == &worker; });
            ended_.push_back(std::move(*mine));
            workers_.erase(mine);
            return;
        }
    }
}

}  // namespace jobgraph::detail
