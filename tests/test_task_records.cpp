// TaskRecords: records stay where they are while others are added, and the result takes them
// in the order asked for, with and without records beyond the reserved array.

#include "core/task_records.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using jobgraph::TaskRecord;
using jobgraph::detail::TaskRecords;

namespace {

TaskRecord named(int i) {
    TaskRecord record;
    record.id = std::to_string(i);
    return record;
}

std::vector<std::string> ids_of(const std::vector<TaskRecord>& records) {
    std::vector<std::string> ids;
    for (const auto& record : records) ids.push_back(record.id);
    return ids;
}

}  // namespace

TEST_CASE("TaskRecords keeps every record in place and hands them over in the order asked", "[records]") {
    // 3 fit the reservation; with a limit of 5 the 2 past it are kept apart.
    const std::size_t max_tasks = GENERATE(std::size_t{5}, std::size_t{3});
    TaskRecords records(max_tasks);
    std::vector<const TaskRecord*> addresses;
    for (int i = 0; i < 5; ++i) {
        records.push_back(named(i));
        addresses.push_back(&records[static_cast<std::size_t>(i)]);
    }
    REQUIRE(records.size() == 5);
    for (std::size_t i = 0; i < 5; ++i) {
        CHECK(&records[i] == addresses[i]);
        CHECK(records[i].id == std::to_string(i));
    }

    const std::vector<std::uint32_t> order{3, 0, 4, 1, 2};
    CHECK(ids_of(records.take(order)) == std::vector<std::string>{"3", "0", "4", "1", "2"});
    CHECK(records.size() == 0);
}

TEST_CASE("TaskRecords truncates to the records a store holds", "[records]") {
    const std::size_t max_tasks = GENERATE(std::size_t{6}, std::size_t{2});
    TaskRecords records(max_tasks);
    for (int i = 0; i < 6; ++i) records.push_back(named(i));
    const std::size_t keep = GENERATE(std::size_t{1}, std::size_t{2}, std::size_t{4}, std::size_t{6});
    records.truncate(keep);
    REQUIRE(records.size() == keep);
    std::vector<std::uint32_t> order;
    for (std::uint32_t i = 0; i < keep; ++i) order.push_back(static_cast<std::uint32_t>(keep - 1 - i));
    std::vector<std::string> expected;
    for (std::size_t i = keep; i-- > 0;) expected.push_back(std::to_string(i));
    CHECK(ids_of(records.take(order)) == expected);
}
