#pragma once
// The threads an orchestrator keeps between its runs. Starting and joining two threads costs
// about 60 us on a machine like ours, most of what a run of a small job takes; a kept thread
// is woken instead.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace jobgraph::detail {

class WorkerPool {
public:
    /// The threads one run was lent: wait() returns once each has finished its task and is
    /// back in the pool, so the next run finds them waiting instead of starting new ones.
    class Crew {
    public:
        Crew() = default;
        Crew(const Crew&) = delete;
        Crew& operator=(const Crew&) = delete;

    private:
        friend class WorkerPool;
        // Changed under the pool's mutex; atomic so that wait() can poll it without.
        std::atomic<std::size_t> running_ = 0;
        std::condition_variable finished_;
    };

    /// Starts a thread that calls the function given; std::thread's constructor unless a test
    /// needs it to fail.
    using StartThread = std::function<std::thread(std::function<void()>)>;

    /// Keeps up to @p keep_idle threads waiting between runs. Runs at once may need more: those
    /// are started then, and end once they are done if that many wait already. A waiting thread,
    /// and wait(), poll for up to @p spin_before_sleep before they sleep (spin_wait.hpp).
    explicit WorkerPool(std::size_t keep_idle, StartThread start_thread = {},
                        std::chrono::microseconds spin_before_sleep = {});
    /// Ends every thread. No task may be running: each crew must have been waited for.
    ~WorkerPool();

    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    /// Runs @p task, which must not throw, on a waiting thread or on a new one, as part of
    /// @p crew. Throws std::system_error, running nothing, if a new thread cannot start.
    void run(Crew& crew, std::function<void()> task);
    /// Waits until every task given to @p crew has ended.
    void wait(Crew& crew);

    /// Threads alive: those waiting and those running a task.
    std::size_t size() const;

    /// How long the pool's threads, and the threads that wait for them, poll before sleeping.
    std::chrono::microseconds spin_before_sleep() const noexcept { return spin_before_sleep_; }

private:
    struct Worker {
        std::condition_variable wake;
        std::function<void()> task;
        // Set, beside `task` or `closing_`, for the thread to poll without the mutex.
        std::atomic<bool> woken{false};
        Crew* crew = nullptr;
        std::thread thread;
    };

    void serve(Worker& worker);

    const std::size_t keep_idle_;
    const StartThread start_thread_;
    const std::chrono::microseconds spin_before_sleep_;
    mutable std::mutex mutex_;
    bool closing_ = false;
    std::vector<Worker*> idle_;  // the most recently used last; room for keep_idle_ from the start
    // Lists, so that a thread moves itself from one to the other without allocating (splice).
    std::list<Worker> workers_;  // every thread not yet ended
    std::list<Worker> ended_;    // ended beyond keep_idle_, still to join
};

}  // namespace jobgraph::detail
