#pragma once
/// @file time.hpp
/// @brief UTC timestamps with microsecond precision, as the contract records them.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace jobgraph {

/// @brief A UTC point in time, microseconds since the Unix epoch.
using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

/// @brief The current UTC time, truncated to microseconds.
inline Timestamp now_utc() noexcept {
    return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

/// @brief ISO 8601 form used in results: "2026-11-26T15:07:00.123456Z".
std::string format_timestamp(Timestamp at);

/// @brief Reads the form written by format_timestamp; nullopt if the text does not match it.
std::optional<Timestamp> parse_timestamp(std::string_view text);

}  // namespace jobgraph
