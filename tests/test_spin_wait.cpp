// Polling before sleeping: spin_until ends as soon as its condition holds, and otherwise once
// its budget is spent, whatever the budget.
#include "run/spin_wait.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using jobgraph::detail::can_spin;
using jobgraph::detail::spin_until;
using namespace std::chrono_literals;

TEST_CASE("A poll ends as soon as its condition holds", "[spin_wait]") {
    int polls = 0;
    // The largest budget: measuring it against the clock must not overflow (UBSan would say).
    CHECK(spin_until([&] { return ++polls == 3; }, std::chrono::microseconds::max()));
    CHECK(polls == (can_spin ? 3 : 1));
}

TEST_CASE("A poll that is given no budget checks its condition once", "[spin_wait]") {
    const auto budget = GENERATE(0us, -5us);
    int polls = 0;
    CHECK_FALSE(spin_until([&] { return ++polls == 2; }, budget));
    CHECK(polls == 1);
}

TEST_CASE("A poll whose condition never holds ends once its budget is spent", "[spin_wait]") {
    int polls = 0;
    CHECK_FALSE(spin_until([&] { return ++polls < 0; }, 200us));
    CHECK(polls >= 1);
}
