#include "services/builtin_parts.hpp"

#include "services/http_client.hpp"
#include "services/json_result.hpp"
#include "services/text_utils.hpp"

#include <jobgraph/context.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace jobgraph::services {
namespace {

using nlohmann::json;

bool is_upper_case_word(const std::string& text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return c >= 'A' && c <= 'Z'; });
}

bool breaks_a_header_line(std::string_view text) {
    return text.find_first_of("\r\n") != std::string_view::npos;
}

std::optional<std::string> check_http_input(const json& input) {
    const auto url = input.find("url");
    if (url == input.end() || !url->is_string())
        return "\"url\" is required: a string such as \"https://example.com/api\"";
    const auto& url_text = url->get_ref<const std::string&>();
    if (!url_text.starts_with("http://") && !url_text.starts_with("https://")) {
        return fmt::format("\"url\" must start with http:// or https://, got \"{}\"", url_text);
    }
    if (const auto method = input.find("method"); method != input.end()) {
        if (!method->is_string() || !is_upper_case_word(method->get_ref<const std::string&>())) {
            return fmt::format("\"method\" must be an upper-case HTTP method such as \"GET\" or \"POST\", got {}",
                               method->dump());
        }
    }
    if (const auto headers = input.find("headers"); headers != input.end()) {
        if (!headers->is_object()) return "\"headers\" must be an object of strings";
        for (const auto& [name, value] : headers->items()) {
            if (name.empty() || name.find(':') != std::string::npos || breaks_a_header_line(name)) {
                return fmt::format("\"headers\" has an invalid header name \"{}\"", name);
            }
            if (!value.is_string() || breaks_a_header_line(value.get_ref<const std::string&>())) {
                return fmt::format("\"headers\".{} must be a one-line string, got {}", name, value.dump());
            }
        }
    }
    const auto body = input.find("body");
    if (body != input.end() && !body->is_string())
        return fmt::format("\"body\" must be a string, got {}", body->dump());
    if (body != input.end() && input.contains("json")) return "give \"json\" or \"body\", not both";
    if (const auto result = input.find("result"); result != input.end() && *result != "body" && *result != "response") {
        return fmt::format("\"result\" must be \"response\" (the default) or \"body\", got {}", result->dump());
    }
    if (const auto timeout = input.find("timeout"); timeout != input.end()) {
        if (!timeout->is_number_integer() || timeout->get<std::int64_t>() < 0) {
            return fmt::format("\"timeout\" must be a non-negative integer (milliseconds), got {}", timeout->dump());
        }
    }
    return std::nullopt;
}

bool has_header(const HttpRequest& request, std::string_view lower_case_name) {
    return std::any_of(request.headers.begin(), request.headers.end(), [&](const auto& header) {
        return std::equal(header.first.begin(), header.first.end(), lower_case_name.begin(), lower_case_name.end(),
                          [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
    });
}

HttpRequest request_from(const json& input) {
    HttpRequest request;
    request.url = input.at("url").get<std::string>();
    const bool has_body = input.contains("json") || input.contains("body");
    request.method = input.value("method", has_body ? "POST" : "GET");
    if (const auto headers = input.find("headers"); headers != input.end()) {
        for (const auto& [name, value] : headers->items()) request.headers.emplace_back(name, value.get<std::string>());
    }
    if (const auto payload = input.find("json"); payload != input.end()) {
        request.body = payload->dump();
        if (!has_header(request, "content-type")) request.headers.emplace_back("Content-Type", "application/json");
    } else if (const auto body = input.find("body"); body != input.end()) {
        request.body = body->get<std::string>();
    }
    request.timeout = std::chrono::milliseconds{input.value("timeout", std::int64_t{0})};
    return request;
}

json send_request(TaskContext& ctx) {
    const json& input = ctx.input();
    const HttpRequest request = request_from(input);
    const HttpResponse response = perform_http(request, ctx.stop_token());
    throw_for_failed_status(request, response);  // 429 and 5xx retryable, other 4xx not

    const std::string source = fmt::format("the body from {} {}", request.method, request.url);
    if (input.value("result", "response") == "body") {
        // The remote service answers like a handler: its body may hold childTasks, output and trace.
        return parse_handler_result(response.body, source, Retry::allowed);
    }
    json headers = json::object();
    for (const auto& [name, value] : response.headers) {
        auto& joined = headers[name];
        joined = joined.is_null() ? json(value) : json(joined.get<std::string>() + ", " + value);
    }
    json output{{"status", response.status}, {"headers", std::move(headers)}};
    if (response.is_json() && !response.body.empty()) {
        output["json"] = parse_json_reply(response.body, source, Retry::allowed);
    } else {
        output["body"] = valid_utf8(response.body);
    }
    return json{{"output", std::move(output)}};
}

}  // namespace

void register_http_service(HandlerRegistry& registry) {
    registry.add(
        "http", "request", send_request,
        {.side_effect_free = false,
         .input_check = check_http_input,
         .description = "sends {\"method\", \"url\", \"headers\", \"json\" | \"body\"}; 429 and 5xx fail "
                        "retryably, other 4xx not; \"result\": \"body\" makes the JSON body the result",
         .input_example = R"({"method": "POST", "url": "https://example.com/api/items", )"
                          R"("headers": {"Accept": "application/json"}, "json": {"name": "item"}, "timeout": 10000})"});
}

}  // namespace jobgraph::services
