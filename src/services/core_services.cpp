#include "services/builtin_parts.hpp"

#include <jobgraph/context.hpp>

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stdexcept>

namespace jobgraph::services {
namespace {

using nlohmann::json;

// --- input checks (run before anything starts, and on every spawned child) -------------------

std::optional<std::string> check_sleep_input(const json& input) {
    const auto ms = input.find("ms");
    if (ms == input.end()) return "\"ms\" is required (milliseconds to sleep)";
    if (!ms->is_number_integer() || ms->get<std::int64_t>() < 0) {
        return fmt::format("\"ms\" must be a non-negative integer, got {}", ms->dump());
    }
    return std::nullopt;
}

std::optional<std::string> check_fail_input(const json& input) {
    const auto message = input.find("message");
    if (message != input.end() && !message->is_string()) {
        return fmt::format("\"message\" must be a string, got {}", message->dump());
    }
    return std::nullopt;
}

std::optional<std::string> check_spawn_input(const json& input) {
    if (const auto children = input.find("children"); children != input.end()) {
        if (!children->is_array()) return "\"children\" must be an array of task specs";
        for (const auto& child : *children) {
            if (!child.is_object()) return fmt::format("\"children\" entries must be task specs, got {}", child.dump());
        }
    }
    if (const auto output = input.find("output"); output != input.end() && !output->is_object()) {
        return fmt::format("\"output\" must be a JSON object, got {}", output->dump());
    }
    return std::nullopt;
}

// --- handlers -------------------------------------------------------------------------------

// Wrapped in "output" so that an input holding "childTasks" or "trace" is echoed, not obeyed.
json echo(TaskContext& ctx) {
    return json{{"output", ctx.input()}};
}

// The moment @p ms milliseconds from now, or the clock's last moment if that is later: a huge
// "ms" must mean "sleep until stopped", not overflow into the past and return at once.
std::chrono::steady_clock::time_point saturated_deadline(std::int64_t ms) {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point now = Clock::now();
    const auto room = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - now);
    if (ms >= room.count()) return Clock::time_point::max();
    return now + std::chrono::milliseconds{ms};
}

json sleep_for_a_while(TaskContext& ctx) {
    const auto ms = ctx.input().at("ms").get<std::int64_t>();
    const auto deadline = saturated_deadline(ms);
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    // Waits an hour at a time, so no wait hands the library a time point near the clock's end.
    // Returns early when the job asks its handlers to stop.
    constexpr auto longest_wait = std::chrono::hours{1};
    while (!ctx.stop_token().stop_requested()) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) break;
        const auto until = deadline - now > longest_wait ? now + longest_wait : deadline;
        wake.wait_until(lock, ctx.stop_token(), until, [] { return false; });
    }
    ctx.throw_if_stop_requested();
    return json{{"sleptMs", ms}};
}

json fail_on_purpose(TaskContext& ctx) {
    throw std::runtime_error(ctx.input().value("message", std::string("core/fail: failed on purpose")));
}

json spawn_children(TaskContext& ctx) {
    return json{{"childTasks", ctx.input().value("children", json::array())},
                {"output", ctx.input().value("output", json::object())}};
}

json gather_outputs(TaskContext& ctx) {
    json gathered = json::object();
    for (const auto& task_id : ctx.depends_on()) {
        // A met dependency has succeeded, so its output is there; anything else is a mistake.
        auto output = ctx.output_of(task_id);
        if (!output)
            throw std::runtime_error(fmt::format("core/gather: task {} has no output (not succeeded)", task_id));
        gathered[task_id] = std::move(*output);
    }
    return json{{"output", std::move(gathered)}};
}

}  // namespace

void register_core_services(HandlerRegistry& registry) {
    registry.add("core", "echo", echo,
                 {.side_effect_free = true,
                  .input_check = {},
                  .description = "returns its input as its output",
                  .input_example = R"({"any": "object"})"});
    registry.add("core", "sleep", sleep_for_a_while,
                 {.side_effect_free = true,
                  .input_check = check_sleep_input,
                  .description = "waits {\"ms\": N} milliseconds; ends aborted if the job stops first",
                  .input_example = R"({"ms": 500})"});
    registry.add("core", "fail", fail_on_purpose,
                 {.side_effect_free = true,
                  .input_check = check_fail_input,
                  .description = "fails with {\"message\": \"...\"}",
                  .input_example = R"({"message": "why it failed"})"});
    registry.add(
        "core", "spawn", spawn_children,
        {.side_effect_free = true,
         .input_check = check_spawn_input,
         .description = "spawns {\"children\": [task specs]} (which may nest), outputs \"output\" or {}",
         .input_example = R"({"children": [{"service": "core", "command": "echo", "input": {}}], "output": {}})"});
    registry.add("core", "gather", gather_outputs,
                 {.side_effect_free = true,
                  .input_check = {},
                  .description = "outputs {\"<dep id>\": <its output>} for every declared dependency",
                  .input_example = "{}"});
}

}  // namespace jobgraph::services
