// The orchestrator's ready set on its own: smallest task first, whatever the push order.
#include "core/ready_queue.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <queue>
#include <random>
#include <set>
#include <vector>

using jobgraph::detail::ReadyQueue;
using Index = ReadyQueue::Index;

namespace {

std::vector<Index> drain(ReadyQueue& queue) {
    std::vector<Index> out;
    while (!queue.empty()) out.push_back(queue.pop());
    return out;
}

}  // namespace

TEST_CASE("The ready queue hands out the smallest task first, across words and summary words", "[ready_queue]") {
    ReadyQueue queue;
    // 63/64 straddle a word, 4095/4096 a summary word; 300000 makes it grow past its reserve.
    queue.reserve(5000);
    for (const Index task : {4096u, 5u, 300000u, 63u, 0u, 4095u, 64u}) queue.push(task);
    CHECK(queue.size() == 7);
    CHECK(drain(queue) == std::vector<Index>{0, 5, 63, 64, 4095, 4096, 300000});
    CHECK(queue.size() == 0);
}

TEST_CASE("A task pushed below the ones left is handed out next", "[ready_queue]") {
    ReadyQueue queue;
    for (const Index task : {10u, 9000u, 200000u}) queue.push(task);
    CHECK(queue.pop() == 10);
    CHECK(queue.pop() == 9000);
    queue.push(3);  // below where the last pop left off
    queue.push(9001);
    CHECK(drain(queue) == std::vector<Index>{3, 9001, 200000});
}

TEST_CASE("A cleared ready queue is empty and takes tasks again", "[ready_queue]") {
    ReadyQueue queue;
    for (const Index task : {7u, 70000u, 700u}) queue.push(task);
    queue.clear();
    CHECK(queue.empty());
    queue.push(70000);
    queue.push(7);
    CHECK(drain(queue) == std::vector<Index>{7, 70000});
}

TEST_CASE("The ready queue agrees with a min-heap on random pushes and pops", "[ready_queue]") {
    const auto seed = GENERATE(range(1u, 21u));
    CAPTURE(seed);
    std::mt19937 random(seed);
    // The narrow range (five summary words) keeps words and summary words busy; the wide one
    // makes far jumps.
    const Index range = seed % 2 == 0 ? 20000 : 400000;
    std::uniform_int_distribution<Index> pick(0, range - 1);
    std::bernoulli_distribution push_next(0.55);

    ReadyQueue queue;
    std::priority_queue<Index, std::vector<Index>, std::greater<>> reference;
    std::set<Index> queued;  // a task is in the queue at most once, as in a job
    for (int step = 0; step < 20000; ++step) {
        if (reference.empty() || push_next(random)) {
            const Index task = pick(random);
            if (!queued.insert(task).second) continue;
            queue.push(task);
            reference.push(task);
        } else {
            REQUIRE(queue.pop() == reference.top());
            queued.erase(reference.top());
            reference.pop();
        }
        REQUIRE(queue.size() == reference.size());
    }
    while (!reference.empty()) {
        REQUIRE(queue.pop() == reference.top());
        reference.pop();
    }
    CHECK(queue.empty());
}
