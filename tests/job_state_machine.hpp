#pragma once
// Drives JobState directly in tests: one transition at a time, no threads, every time given.
#include "helpers.hpp"

#include "core/job_state.hpp"
#include "spec/prepared_job.hpp"

#include <utility>
#include <vector>

namespace jobgraph::testing {

inline Timestamp at(std::int64_t us) {
    return Timestamp{std::chrono::microseconds{us}};
}

struct Machine {
    explicit Machine(JobSpec spec, detail::JobStateOptions options = {}, std::vector<TaskRecord> restored = {})
        : registry(basic_registry()),
          state(registry, prepared(std::move(spec), registry), options, at(100), std::move(restored)) {}

    static detail::PreparedJob prepared(JobSpec spec, const HandlerRegistry& registry) {
        auto preparation = detail::prepare_job(std::move(spec), registry);
        REQUIRE(preparation.problems.empty());
        return std::move(*preparation.job);
    }

    // Starts the next ready task and checks it is @p id.
    detail::JobState::Index start(const std::string& id, std::int64_t us) {
        const auto started = state.start_next(at(us));
        REQUIRE(started.has_value());
        CHECK(started->record->id == id);
        return started->task;
    }

    detail::HandlerOutcome result(const detail::JobState::Started& task, json returned) const {
        return detail::interpret_result(std::move(returned), {},
                                        detail::OutcomeContext{task.record->id, task.record->depth, registry, false,
                                                               defaults});
    }

    HandlerRegistry registry;
    detail::JobState state;
    TaskDefaults defaults;
};

inline std::vector<std::pair<TaskStatus, std::int64_t>> timeline(const TaskRecord& record) {
    std::vector<std::pair<TaskStatus, std::int64_t>> entries;
    for (const auto& entry : record.history) entries.emplace_back(entry.status, entry.at.time_since_epoch().count());
    return entries;
}

}  // namespace jobgraph::testing
