#pragma once
/// @file json_result.hpp
/// @brief JSON text from a program's stdout or a remote service, read as a value or as a
/// handler's result.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string_view>

namespace jobgraph::services {

/// @brief Untrusted JSON nested deeper than this is refused rather than parsed.
inline constexpr std::size_t max_json_nesting = 512;

/// @brief Whether a reading failure should let the task be tried again.
enum class Retry { allowed, pointless };

/// @brief Parses @p text, whatever JSON value it holds. On malformed text (the message names
/// the line and column) or nesting deeper than max_json_nesting, throws std::runtime_error
/// (Retry::allowed) or NonRetryableError (Retry::pointless), the message starting with @p source.
nlohmann::json parse_json_reply(std::string_view text, std::string_view source, Retry retry);

/// @brief Like parse_json_reply, and the value must be an object: a handler's result, which may
/// hold "childTasks", "output" and "trace".
nlohmann::json parse_handler_result(std::string_view text, std::string_view source, Retry retry);

}  // namespace jobgraph::services
