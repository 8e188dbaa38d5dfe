#include "services/builtin_parts.hpp"

#include "services/http_client.hpp"
#include "services/json_result.hpp"
#include "services/text_utils.hpp"

#include <jobgraph/context.hpp>
#include <jobgraph/errors.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <cstdlib>

namespace jobgraph::services {
namespace {

using nlohmann::json;

bool is_web_url(std::string_view url) {
    return url.starts_with("http://") || url.starts_with("https://");
}

std::optional<std::string> check_chat_input(const json& input) {
    const auto messages = input.find("messages");
    const auto prompt = input.find("prompt");
    if ((messages == input.end()) == (prompt == input.end())) {
        return "give either \"prompt\": \"...\" or \"messages\": [{\"role\": \"user\", \"content\": \"...\"}]";
    }
    if (prompt != input.end() && !prompt->is_string())
        return fmt::format("\"prompt\" must be a string, got {}", prompt->dump());
    if (messages != input.end()) {
        if (!messages->is_array() || messages->empty()) return "\"messages\" must be a non-empty array of messages";
        for (const auto& message : *messages) {
            if (!message.is_object() || !message.contains("role") || !message["role"].is_string() ||
                !message.contains("content")) {
                return fmt::format("each message must be {{\"role\": \"...\", \"content\": ...}}, got {}",
                                   message.dump());
            }
        }
    }
    for (const char* key : {"model", "system"}) {
        if (const auto value = input.find(key); value != input.end() && !value->is_string()) {
            return fmt::format("\"{}\" must be a string, got {}", key, value->dump());
        }
    }
    if (const auto value = input.find("temperature"); value != input.end() && !value->is_number()) {
        return fmt::format("\"temperature\" must be a number, got {}", value->dump());
    }
    if (const auto value = input.find("plan"); value != input.end() && !value->is_boolean()) {
        return fmt::format("\"plan\" must be true or false, got {}", value->dump());
    }
    if (const auto value = input.find("baseUrl"); value != input.end()) {
        if (!value->is_string() || !is_web_url(value->get_ref<const std::string&>())) {
            return fmt::format("\"baseUrl\" must be a URL starting with http:// or https://, got {}", value->dump());
        }
    }
    if (const auto timeout = input.find("timeout"); timeout != input.end()) {
        if (!timeout->is_number_integer() || timeout->get<std::int64_t>() < 0) {
            return fmt::format("\"timeout\" must be a non-negative integer (milliseconds), got {}", timeout->dump());
        }
    }
    return std::nullopt;
}

std::string environment_value(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

// baseUrl, else JOBGRAPH_LLM_BASE_URL, else OPENAI_BASE_URL; e.g. "http://localhost:11434/v1".
std::string chat_completions_url(const json& input) {
    std::string base = input.value("baseUrl", "");
    std::string_view from = "\"baseUrl\"";
    for (const char* variable : {"JOBGRAPH_LLM_BASE_URL", "OPENAI_BASE_URL"}) {
        if (!base.empty()) break;
        base = environment_value(variable);
        from = variable;
    }
    if (base.empty()) {
        throw NonRetryableError(
            "llm/chat has no model endpoint: set \"baseUrl\" in the task's input, or the environment variable "
            "JOBGRAPH_LLM_BASE_URL (or OPENAI_BASE_URL), to an OpenAI-compatible API such as "
            "http://localhost:11434/v1 (Ollama) or https://api.openai.com/v1; put the key, if one is needed, in "
            "OPENAI_API_KEY");
    }
    if (!is_web_url(base))
        throw NonRetryableError(fmt::format("{} must start with http:// or https://, got \"{}\"", from, base));
    while (base.ends_with('/')) base.pop_back();
    return base + "/chat/completions";
}

// Tells the model how to answer in plan mode, and what it may ask for: every registered
// service, with its description and an example input.
std::string planning_instructions(const HandlerRegistry& registry) {
    std::string text =
        "You plan work for a job runner. Answer with one JSON object and nothing else, shaped like this:\n"
        R"({"childTasks": [{"id": "fetch", "service": "...", "command": "...", "input": {}}, )"
        R"({"id": "report", "service": "...", "command": "...", "input": {}, "dependsOn": ["fetch"]}], )"
        R"("output": {"summary": "what the plan does"}})"
        "\n\"id\" and \"dependsOn\" are optional; a task starts once every task it depends on has succeeded. "
        "\"childTasks\" may be empty when there is nothing to do. Use only these services (service/command), "
        "with inputs shaped like their examples:\n";
    for (const HandlerEntry* entry : registry.entries()) {
        text += fmt::format("- {}/{}: {}", entry->service, entry->command, entry->options.description);
        if (!entry->options.input_example.empty()) text += " Example input: " + entry->options.input_example;
        text += '\n';
    }
    return text;
}

json chat(TaskContext& ctx, const HandlerRegistry& registry) {
    const json& input = ctx.input();
    const bool plan = input.value("plan", false);

    json messages = json::array();
    if (plan) messages.push_back({{"role", "system"}, {"content", planning_instructions(registry)}});
    if (const auto system = input.find("system"); system != input.end()) {
        messages.push_back({{"role", "system"}, {"content", *system}});
    }
    if (const auto prompt = input.find("prompt"); prompt != input.end()) {
        messages.push_back({{"role", "user"}, {"content", *prompt}});
    } else {
        for (const auto& message : input.at("messages")) messages.push_back(message);
    }
    json body{{"messages", std::move(messages)}, {"stream", false}};
    if (const auto model = input.find("model"); model != input.end()) body["model"] = *model;
    if (const auto temperature = input.find("temperature"); temperature != input.end())
        body["temperature"] = *temperature;
    if (plan) body["response_format"] = {{"type", "json_object"}};

    HttpRequest request;
    request.method = "POST";
    request.url = chat_completions_url(input);
    request.headers.emplace_back("Content-Type", "application/json");
    if (const std::string key = environment_value("OPENAI_API_KEY"); !key.empty()) {
        request.headers.emplace_back("Authorization", "Bearer " + key);
    }
    request.body = body.dump();
    request.timeout = std::chrono::milliseconds{input.value("timeout", std::int64_t{0})};

    const HttpResponse response = perform_http(request, ctx.stop_token());
    throw_for_failed_status(request, response);
    const json reply =
        parse_json_reply(response.body, fmt::format("the reply from POST {}", request.url), Retry::allowed);
    const json* content = nullptr;
    if (reply.is_object() && reply.contains("choices") && reply["choices"].is_array() && !reply["choices"].empty()) {
        const json& first = reply["choices"][0];
        if (first.is_object() && first.contains("message") && first["message"].is_object()) {
            const auto found = first["message"].find("content");
            if (found != first["message"].end() && found->is_string()) content = &*found;
        }
    }
    if (!content) {
        throw std::runtime_error(fmt::format("the reply from POST {} has no choices[0].message.content: {}",
                                             request.url, excerpt(reply.dump())));
    }
    const json model = reply.is_object() && reply.contains("model") ? reply["model"] : input.value("model", json());
    const json usage = reply.is_object() && reply.contains("usage") ? reply["usage"] : json::object();

    if (plan) {
        // The model's plan is this task's result: its childTasks are checked and spawned like
        // any handler's. Which model made it, and at what cost, goes to the trace.
        ctx.set_trace({{"model", model}, {"usage", usage}});
        const std::string source =
            fmt::format("the plan from {}", model.is_string() ? model.get<std::string>() : request.url);
        return parse_handler_result(content->get_ref<const std::string&>(), source, Retry::allowed);
    }
    return json{{"output", {{"content", *content}, {"model", model}, {"usage", usage}}}};
}

}  // namespace

void register_llm_service(HandlerRegistry& registry) {
    registry.add("llm", "chat", [&registry](TaskContext& ctx) { return chat(ctx, registry); },
                 {.side_effect_free = true,
                  .input_check = check_chat_input,
                  .description = "asks an OpenAI-compatible model {\"prompt\" | \"messages\", \"model\", \"system\"}; "
                                 "with \"plan\": true its JSON answer's childTasks are spawned",
                  .input_example = R"({"model": "llama3.1", "prompt": "Summarise the report in three lines", )"
                                   R"("temperature": 0.2})"});
}

}  // namespace jobgraph::services
