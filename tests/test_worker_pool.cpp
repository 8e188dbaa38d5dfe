// The threads an orchestrator keeps between runs: reused while they wait, started when runs at
// once need more, and ended beyond the number kept.
#include "run/worker_pool.hpp"

#include "helpers.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>
#include <vector>

using jobgraph::detail::WorkerPool;
using jobgraph::testing::returns_soon;
using jobgraph::testing::thread_serial;
using namespace std::chrono_literals;

namespace {

// Records the thread each task of a crew ran on.
struct ThreadLog {
    std::mutex mutex;
    std::set<int> threads;

    void add() {
        std::lock_guard lock(mutex);
        threads.insert(thread_serial());
    }
};

// Counts the pool's threads that have ended: one of these lives in each thread that ran a task.
std::atomic<int> threads_ended{0};
struct CountsThreadEnd {
    bool armed = false;
    ~CountsThreadEnd() {
        if (armed) ++threads_ended;
    }
};
thread_local CountsThreadEnd counts_thread_end;

// Holds the tasks of one crew until released, so that crews overlap.
struct Gate {
    std::mutex mutex;
    std::condition_variable opened;
    bool open = false;
    int waiting = 0;

    void pass() {
        std::unique_lock lock(mutex);
        ++waiting;
        opened.notify_all();
        opened.wait(lock, [&] { return open; });
    }
    bool wait_for_waiting(int count) {
        std::unique_lock lock(mutex);
        return opened.wait_for(lock, 10s, [&] { return waiting == count; });
    }
    void release() {
        std::lock_guard lock(mutex);
        open = true;
        opened.notify_all();
    }
};

// Starts threads as std::thread does, except the ones told to fail.
struct FailingStart {
    std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
    std::shared_ptr<std::atomic<int>> fail_from = std::make_shared<std::atomic<int>>(1'000'000);

    std::thread operator()(std::function<void()> body) const {
        if (++*calls >= *fail_from)
            throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
        return std::thread(std::move(body));
    }
};

}  // namespace

TEST_CASE("A pool runs the next crew's tasks on the threads the last crew gave back", "[worker_pool]") {
    WorkerPool pool(2);
    ThreadLog first;
    ThreadLog later;
    {
        // Both held at the gate: a thread done with the first task could otherwise be back in
        // time to take the second, and the pool would start only one.
        Gate gate;
        WorkerPool::Crew crew;
        for (int i = 0; i < 2; ++i) {
            pool.run(crew, [&] {
                first.add();
                gate.pass();
            });
        }
        // CHECK, not REQUIRE: a throw here would leave the threads waiting at a gate gone.
        CHECK(gate.wait_for_waiting(2));
        gate.release();
        pool.wait(crew);
    }
    REQUIRE(first.threads.size() == 2);
    for (int round = 0; round < 20; ++round) {
        WorkerPool::Crew crew;
        for (int i = 0; i < 2; ++i) pool.run(crew, [&] { later.add(); });
        pool.wait(crew);
    }
    CHECK(later.threads == first.threads);
    CHECK(pool.size() == 2);
    CHECK(first.threads.count(thread_serial()) == 0);
}

TEST_CASE("A pool starts threads for crews at once, and ends those beyond the number it keeps", "[worker_pool]") {
    threads_ended = 0;
    {
        WorkerPool pool(2);
        Gate gate;
        ThreadLog log;
        WorkerPool::Crew first;
        WorkerPool::Crew second;
        const auto task = [&] {
            counts_thread_end.armed = true;
            log.add();
            gate.pass();
        };
        for (int i = 0; i < 2; ++i) pool.run(first, task);
        for (int i = 0; i < 2; ++i) pool.run(second, task);
        CHECK(gate.wait_for_waiting(4));  // not REQUIRE: the threads must pass the gate either way
        CHECK(pool.size() == 4);
        CHECK(log.threads.size() == 4);
        gate.release();
        pool.wait(first);
        pool.wait(second);
        CHECK(pool.size() == 2);
        // The two that ended are joined by the next run, which reuses a kept thread.
        WorkerPool::Crew third;
        pool.run(third, [] {});
        pool.wait(third);
        CHECK(threads_ended == 2);
        CHECK(pool.size() == 2);
    }
    CHECK(threads_ended == 4);  // the pool's end ended the two it kept
}

TEST_CASE("Crews from several threads share a pool, again and again", "[worker_pool][stress]") {
    // ThreadSanitizer checks the hand-overs: a task's effects are seen once its crew is waited for.
    // With polling, the threads and wait() also poll before they sleep.
    const auto spin = std::chrono::microseconds(GENERATE(0, 100));
    CAPTURE(spin.count());
    WorkerPool pool(2, {}, spin);
    std::vector<std::thread> callers;
    std::atomic<int> failures{0};
    for (int caller = 0; caller < 4; ++caller) {
        callers.emplace_back([&] {
            for (int round = 0; round < 100; ++round) {
                std::vector<int> done(3, 0);  // plain: each task writes its own slot
                WorkerPool::Crew crew;
                for (std::size_t i = 0; i < done.size(); ++i) pool.run(crew, [&done, i] { done[i] = 1; });
                pool.wait(crew);
                for (const int d : done) {
                    if (d != 1) ++failures;
                }
            }
        });
    }
    for (auto& caller : callers) caller.join();
    CHECK(failures == 0);
    CHECK(pool.size() == 2);
}

TEST_CASE("Threads that poll between runs take the next crew's tasks, and the pool's end stops them polling",
          "[worker_pool]") {
    // A budget no test waits out: each poll must end by the event it waits for (on x86; other
    // CPUs never poll). Shared, so that a body that never returns keeps what it uses.
    constexpr auto forever = std::chrono::hours(1);
    auto pool = std::make_shared<WorkerPool>(2, WorkerPool::StartThread{}, forever);
    auto log = std::make_shared<ThreadLog>();
    REQUIRE(returns_soon([pool, log] {
        for (int round = 0; round < 20; ++round) {
            WorkerPool::Crew crew;
            for (int i = 0; i < 2; ++i) pool->run(crew, [&] { log->add(); });
            pool->wait(crew);
        }
    }));
    CHECK(pool->size() == log->threads.size());  // every later crew found them waiting
    REQUIRE(returns_soon([pool = std::move(pool)]() mutable { pool.reset(); }));
}

TEST_CASE("A pool that cannot start a thread runs nothing and keeps the ended threads to join", "[worker_pool]") {
    FailingStart start;
    std::atomic<int> ran{0};
    {
        WorkerPool pool(0, start);  // keeps none: every thread ends after its task
        WorkerPool::Crew first;
        pool.run(first, [&] { ++ran; });
        pool.wait(first);
        REQUIRE(pool.size() == 0);  // ended, still to join

        *start.fail_from = *start.calls + 1;
        WorkerPool::Crew second;
        CHECK_THROWS_AS(pool.run(second, [&] { ++ran; }), std::system_error);
        pool.wait(second);  // nothing was given to it: returns at once

        *start.fail_from = 1'000'000;
        WorkerPool::Crew third;
        pool.run(third, [&] { ++ran; });  // joins the first thread
        pool.wait(third);
        CHECK(ran == 2);
        CHECK(*start.calls == 3);
    }  // joins the third thread, ended too
    CHECK(ran == 2);
}
