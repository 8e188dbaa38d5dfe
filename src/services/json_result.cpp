#include "services/json_result.hpp"

#include <jobgraph/errors.hpp>
#include <jobgraph/spec.hpp>

#include <fmt/format.h>

#include <string>

namespace jobgraph::services {
namespace {

[[noreturn]] void fail(std::string message, Retry retry) {
    if (retry == Retry::pointless) throw NonRetryableError(std::move(message));
    throw std::runtime_error(std::move(message));
}

// The deepest nesting of arrays and objects in the text, counted without parsing it.
std::size_t nesting_of(std::string_view text) {
    std::size_t depth = 0;
    std::size_t deepest = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

}  // namespace

nlohmann::json parse_json_reply(std::string_view text, std::string_view source, Retry retry) {
    if (nesting_of(text) > max_json_nesting) {
        fail(fmt::format("{} nests JSON deeper than {} levels", source, max_json_nesting), retry);
    }
    try {
        return parse_json_text(text);
    } catch (const JsonSyntaxError& error) {
        fail(fmt::format("{} is not JSON: {}", source, error.what()), retry);
    }
}

nlohmann::json parse_handler_result(std::string_view text, std::string_view source, Retry retry) {
    nlohmann::json result = parse_json_reply(text, source, retry);
    if (!result.is_object()) {
        fail(fmt::format("{} must be a JSON object (the task's result), got {}", source, result.type_name()), retry);
    }
    return result;
}

}  // namespace jobgraph::services
