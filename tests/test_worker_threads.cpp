// A run's worker threads on their own: taken from a pool before the job is known, readied one
// at a time until the job starts, then given its work, or dismissed unused.
#include "run/worker_threads.hpp"

#include "helpers.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>
#include <vector>

using jobgraph::detail::WorkerPool;
using jobgraph::detail::WorkerThreads;
using jobgraph::testing::returns_soon;
using namespace std::chrono_literals;

namespace {

// Counts the prepare calls under way at once, and the most there ever were.
struct PrepareCounter {
    std::atomic<int> active{0};
    std::atomic<int> most{0};
    std::atomic<int> done{0};

    void enter() {
        const int now = ++active;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
    }
    void leave() {
        --active;
        ++done;
    }
};

// Polls @p condition for up to ten seconds (a generous bound on a loaded machine).
template <typename Condition>
bool eventually(Condition condition) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

}  // namespace

TEST_CASE("Each worker thread runs the work once with its own index on a thread of its own", "[worker_threads]") {
    std::mutex mutex;
    std::vector<std::size_t> indices;
    std::set<std::thread::id> threads;
    {
        WorkerPool pool(4);
        WorkerThreads workers(pool, 4);
        CHECK(workers.size() == 4);
        workers.start([&](std::size_t worker) {
            std::lock_guard lock(mutex);
            indices.push_back(worker);
            threads.insert(std::this_thread::get_id());
        });
        workers.join();
    }
    std::sort(indices.begin(), indices.end());
    CHECK(indices == std::vector<std::size_t>{0, 1, 2, 3});
    CHECK(threads.size() == 4);
    CHECK(threads.count(std::this_thread::get_id()) == 0);
}

TEST_CASE("Worker threads that poll for the work stop when it is given or they are dismissed", "[worker_threads]") {
    // A budget no test waits out: the poll must end by start() or join() (on x86; other CPUs
    // never poll). Shared, so that a body that never returns keeps what it uses.
    constexpr auto forever = std::chrono::hours(1);
    auto pool = std::make_shared<WorkerPool>(2, WorkerPool::StartThread{}, forever);
    auto worked = std::make_shared<std::atomic<int>>(0);
    auto worked_before_join = std::make_shared<std::atomic<bool>>(false);
    const bool given = GENERATE(true, false);
    CAPTURE(given);
    REQUIRE(returns_soon([pool, worked, worked_before_join, given] {
        std::atomic<int> prepared{0};
        WorkerThreads workers(*pool, 2, [&] { ++prepared; });
        eventually([&] { return prepared == 2; });  // both polling, or about to
        if (given) {
            workers.start([&](std::size_t) { ++*worked; });
            // Before join(), which would end the poll too.
            *worked_before_join = eventually([&] { return *worked == 2; });
        }
        workers.join();
    }));
    CHECK(*worked == (given ? 2 : 0));
    CHECK(*worked_before_join == given);
    REQUIRE(returns_soon([pool = std::move(pool)]() mutable { pool.reset(); }));
}

TEST_CASE("Worker threads prepare one at a time before the work is given", "[worker_threads]") {
    PrepareCounter counter;
    WorkerPool pool(3);
    WorkerThreads workers(pool, 3, [&] {
        counter.enter();
        std::this_thread::sleep_for(5ms);  // long enough for the others to overlap, were they let
        counter.leave();
    });
    REQUIRE(eventually([&] { return counter.done == 3; }));
    CHECK(counter.most == 1);
    workers.join();
}

TEST_CASE("Worker threads take their turns to prepare in the order of their indices", "[worker_threads]") {
    // Each turn wakes the next thread only; sixteen threads make a lost or misdirected wake-up
    // show as a turn never taken.
    constexpr std::size_t count = 16;
    std::mutex mutex;
    std::vector<std::thread::id> prepared_in_order;
    std::vector<std::thread::id> thread_of(count);
    WorkerPool pool(count);
    WorkerThreads workers(pool, count, [&] {
        std::lock_guard lock(mutex);
        prepared_in_order.push_back(std::this_thread::get_id());
    });
    REQUIRE(eventually([&] {
        std::lock_guard lock(mutex);
        return prepared_in_order.size() == count;
    }));
    workers.start([&](std::size_t worker) {
        std::lock_guard lock(mutex);
        thread_of[worker] = std::this_thread::get_id();
    });
    workers.join();
    CHECK(prepared_in_order == thread_of);
}

TEST_CASE("Worker threads still to prepare when the work is given prepare at once, and work only once prepared",
          "[worker_threads]") {
    PrepareCounter counter;
    std::atomic<bool> release_first{false};
    std::mutex mutex;
    std::set<std::thread::id> prepared;  // threads whose prepare has returned
    std::atomic<int> worked{0};
    std::atomic<int> worked_unprepared{0};
    WorkerPool pool(3);
    WorkerThreads workers(pool, 3, [&] {
        counter.enter();
        const bool first = counter.done == 0 && counter.active == 1;
        // The first holds its turn until the other two are preparing beside it. (No Catch2
        // assertions on these threads: Catch2 2 is not thread-safe.)
        while (first && !release_first) std::this_thread::sleep_for(1ms);
        {
            std::lock_guard lock(mutex);
            prepared.insert(std::this_thread::get_id());
        }
        counter.leave();
    });
    // Set on every way out, so that a failed check does not leave the first thread waiting.
    struct Release {
        std::atomic<bool>& flag;
        ~Release() { flag = true; }
    } release{release_first};

    REQUIRE(eventually([&] { return counter.active == 1; }));
    std::this_thread::sleep_for(20ms);
    CHECK(counter.done == 0);  // the others wait their turn while the first prepares
    CHECK(counter.active == 1);

    workers.start([&](std::size_t) {
        ++worked;
        std::lock_guard lock(mutex);
        if (prepared.count(std::this_thread::get_id()) == 0) ++worked_unprepared;
    });
    // Both others prepare, and may already work, while the first still holds its turn.
    CHECK(eventually([&] { return counter.done == 2; }));
    CHECK(counter.active == 1);
    release_first = true;
    workers.join();
    CHECK(counter.done == 3);
    CHECK(worked == 3);
    CHECK(worked_unprepared == 0);
}

TEST_CASE("Worker threads dismissed before any work end without it, and skip their turns to prepare",
          "[worker_threads]") {
    PrepareCounter counter;
    WorkerPool pool(3);
    {
        WorkerThreads workers(pool, 3, [&] {
            counter.enter();
            std::this_thread::sleep_for(200ms);  // the scope below ends well within it
            counter.leave();
        });
        REQUIRE(eventually([&] { return counter.active == 1; }));
    }  // as for a job that fails validation: waits for the prepare under way, and no other
    CHECK(counter.done == 1);
    CHECK(counter.most == 1);
}

TEST_CASE("Worker threads whose last cannot start give back the others and throw", "[worker_threads]") {
    std::atomic<int> starts{0};
    WorkerPool pool(3, [&](std::function<void()> body) {
        if (++starts == 3) throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
        return std::thread(std::move(body));
    });
    std::atomic<int> prepared{0};
    CHECK_THROWS_AS(WorkerThreads(pool, 3, [&] { ++prepared; }), std::system_error);
    CHECK(pool.size() == 2);  // back in the pool, waiting
    // The two are lent again, with no start tried.
    std::atomic<int> worked{0};
    {
        WorkerThreads workers(pool, 2, [] {});
        workers.start([&](std::size_t) { ++worked; });
    }
    CHECK(worked == 2);
    CHECK(starts == 3);
    CHECK(prepared <= 2);
}

TEST_CASE("Worker threads started, given work or dismissed at any moment, again and again",
          "[worker_threads][stress]") {
    // With the default preparation and one pool, as the orchestrator uses them;
    // ThreadSanitizer checks the hand-overs between turns, start(), the end and the next round.
    std::atomic<int> worked{0};
    int expected = 0;
    WorkerPool pool(2);
    for (int round = 0; round < 200; ++round) {
        const std::size_t count = 1 + static_cast<std::size_t>(round % 4);
        WorkerThreads workers(pool, count);
        if (round % 3 == 0) continue;  // dismissed, perhaps while some still prepare
        workers.start([&](std::size_t) { ++worked; });
        expected += static_cast<int>(count);
        if (round % 2 == 0) workers.join();  // else the end of `workers` joins
    }
    CHECK(worked == expected);
    CHECK(pool.size() == 2);  // the threads beyond the two kept ended
}
