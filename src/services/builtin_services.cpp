#include <jobgraph/services.hpp>

#include "services/shell_run.hpp"

#include <jobgraph/context.hpp>
#include <jobgraph/errors.hpp>

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
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

std::optional<std::string> check_shell_input(const json& input) {
    const auto argv = input.find("argv");
    if (argv == input.end() || !argv->is_array() || argv->empty()) {
        return "\"argv\" must be a non-empty array of strings, e.g. [\"echo\", \"hello\"]";
    }
    for (const auto& arg : *argv) {
        if (!arg.is_string()) return fmt::format("\"argv\" entries must be strings, got {}", arg.dump());
    }
    if (argv->front().get_ref<const std::string&>().empty()) return "\"argv\"[0] must name a program";
    if (const auto cwd = input.find("cwd"); cwd != input.end() && !cwd->is_string()) {
        return fmt::format("\"cwd\" must be a string, got {}", cwd->dump());
    }
    if (const auto env = input.find("env"); env != input.end()) {
        if (!env->is_object()) return "\"env\" must be an object of strings";
        for (const auto& [name, value] : env->items()) {
            if (!value.is_string()) return fmt::format("\"env\".{} must be a string, got {}", name, value.dump());
            if (name.empty() || name.find('=') != std::string::npos) {
                return fmt::format("\"env\" has an invalid variable name \"{}\"", name);
            }
        }
    }
    return std::nullopt;
}

// --- handlers -------------------------------------------------------------------------------

// Wrapped in "output" so that an input holding "childTasks" or "trace" is echoed, not obeyed.
json echo(TaskContext& ctx) { return json{{"output", ctx.input()}}; }

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
        if (!output) throw std::runtime_error(fmt::format("core/gather: task {} has no output (not succeeded)", task_id));
        gathered[task_id] = std::move(*output);
    }
    return json{{"output", std::move(gathered)}};
}

std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) text.pop_back();
    return text;
}

json run_shell_command(TaskContext& ctx) {
    const json& input = ctx.input();
    ProgramInvocation invocation;
    invocation.argv = input.at("argv").get<std::vector<std::string>>();
    if (const auto cwd = input.find("cwd"); cwd != input.end()) invocation.cwd = cwd->get<std::string>();
    if (const auto env = input.find("env"); env != input.end()) {
        invocation.env = env->get<std::map<std::string, std::string>>();
    }

    const ProgramOutcome outcome = run_program(invocation, ctx.stop_token());
    if (outcome.stopped) throw StopRequested(fmt::format("Stopped on request: {} was killed", invocation.argv.front()));
    if (outcome.exit_code != 0) {
        const std::string how = outcome.signal ? fmt::format("was killed by signal {}", *outcome.signal)
                                               : fmt::format("exited with status {}", outcome.exit_code);
        const std::string err = trimmed(outcome.stderr_text);
        throw std::runtime_error(fmt::format("{} {}{}{}", invocation.argv.front(), how, err.empty() ? "" : ": ", err));
    }
    return json{{"output", {{"exitCode", outcome.exit_code},
                            {"stdout", outcome.stdout_text},
                            {"stderr", outcome.stderr_text}}}};
}

}  // namespace

void register_builtin(HandlerRegistry& registry) {
    registry.add("core", "echo", echo, {.side_effect_free = true, .input_check = {}, .description = "returns its input as its output"});
    registry.add("core", "sleep", sleep_for_a_while,
                 {.side_effect_free = true, .input_check = check_sleep_input,
                  .description = "waits {\"ms\": N} milliseconds; ends aborted if the job stops first"});
    registry.add("core", "fail", fail_on_purpose,
                 {.side_effect_free = true, .input_check = check_fail_input,
                  .description = "fails with {\"message\": \"...\"}"});
    registry.add("core", "spawn", spawn_children,
                 {.side_effect_free = true, .input_check = check_spawn_input,
                  .description = "spawns {\"children\": [task specs]} (which may nest), outputs \"output\" or {}"});
    registry.add("core", "gather", gather_outputs,
                 {.side_effect_free = true,
                  .input_check = {},
                  .description = "outputs {\"<dep id>\": <its output>} for every declared dependency"});
    registry.add("shell", "run", run_shell_command,
                 {.side_effect_free = false, .input_check = check_shell_input,
                  .description = "runs {\"argv\": [...], \"cwd\", \"env\"} without a shell; non-zero exit fails"});
}

}  // namespace jobgraph::services
