#pragma once
/// @file text_utils.hpp
/// @brief Text from programs and remote services, made fit to store as JSON strings and to
/// quote in error messages.

#include <cstddef>
#include <string>
#include <string_view>

namespace jobgraph::services {

/// @brief @p text with every byte sequence that is not valid UTF-8 replaced by U+FFFD, so that
/// it can be stored and written as a JSON string.
std::string valid_utf8(std::string_view text);

/// @brief The start of @p text for an error message: at most @p limit bytes (cut on a character
/// boundary, "..." added), valid UTF-8, line breaks shown as spaces, surrounding blanks trimmed.
std::string excerpt(std::string_view text, std::size_t limit = 200);

}  // namespace jobgraph::services
