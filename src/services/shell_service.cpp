#include "services/builtin_parts.hpp"

#include "services/json_result.hpp"
#include "services/shell_run.hpp"
#include "services/text_utils.hpp"

#include <jobgraph/context.hpp>
#include <jobgraph/errors.hpp>

#include <fmt/format.h>

#include <stdexcept>

namespace jobgraph::services {
namespace {

using nlohmann::json;

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
    if (const auto mode = input.find("stdout"); mode != input.end() && *mode != "text" && *mode != "json") {
        return fmt::format("\"stdout\" must be \"text\" or \"json\", got {}", mode->dump());
    }
    return std::nullopt;
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
    const std::string& program = invocation.argv.front();

    const ProgramOutcome outcome = run_program(invocation, ctx.stop_token());
    if (outcome.stopped) throw StopRequested(fmt::format("Stopped on request: {} was killed", program));
    if (!outcome.overflowed_stream.empty()) {
        throw NonRetryableError(fmt::format("{} wrote more than {} MiB to {} and was killed", program,
                                            program_output_limit >> 20, outcome.overflowed_stream));
    }
    if (outcome.exit_code != 0) {
        const std::string how = outcome.signal ? fmt::format("was killed by signal {}", *outcome.signal)
                                               : fmt::format("exited with status {}", outcome.exit_code);
        const std::string err = trimmed(valid_utf8(outcome.stderr_text));
        throw std::runtime_error(fmt::format("{} {}{}{}", program, how, err.empty() ? "" : ": ", err));
    }
    if (input.value("stdout", "text") == "json") {
        // The program speaks like a handler: its stdout may hold childTasks, output and trace.
        return parse_handler_result(outcome.stdout_text, fmt::format("the stdout of {}", program), Retry::pointless);
    }
    return json{{"output",
                 {{"exitCode", outcome.exit_code},
                  {"stdout", valid_utf8(outcome.stdout_text)},
                  {"stderr", valid_utf8(outcome.stderr_text)}}}};
}

}  // namespace

void register_shell_service(HandlerRegistry& registry) {
    registry.add(
        "shell", "run", run_shell_command,
        {.side_effect_free = false,
         .input_check = check_shell_input,
         .description = "runs {\"argv\": [...], \"cwd\", \"env\", \"stdout\"} without a shell; "
                        "non-zero exit fails",
         .input_example = R"({"argv": ["ls", "-l"], "cwd": "/tmp", "env": {"LC_ALL": "C"}, "stdout": "text"})"});
}

}  // namespace jobgraph::services
