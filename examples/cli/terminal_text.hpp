#pragma once
/// @file terminal_text.hpp
/// @brief Untrusted text (task ids, job names, messages, handler output) made safe to print on
/// a terminal, and measured in terminal columns.

#include <cstddef>
#include <string>
#include <string_view>

namespace jobgraph::cli {

/// @brief @p text with every control character shown as a visible escape and every byte that
/// is not valid UTF-8 replaced by U+FFFD, so that printing it cannot move the cursor, change
/// colours or retitle the terminal. Newline, carriage return and tab become `\n`, `\r`, `\t`;
/// other C0 controls and DEL become `\xHH` (`\x1b` for escape); C1 controls (U+0080 to U+009F)
/// become `\u0085` style. Backslashes and everything else are kept as they are, so applying it
/// twice gives the same text.
std::string terminal_safe(std::string_view text);

/// @brief terminal_safe, except that @p text's newlines stay line breaks: for multi-line text
/// the runner composed itself (CLI11's usage messages).
std::string terminal_safe_lines(std::string_view text);

/// @brief The number of terminal columns @p text takes: East Asian wide characters count 2,
/// combining marks and other zero-width characters 0. Expects terminal_safe text.
std::size_t display_width(std::string_view text);

/// @brief @p text cut to at most @p width columns, ending in "..." when something was cut.
/// Never splits a character. Expects terminal_safe text.
std::string fit_width(std::string_view text, std::size_t width);

/// @brief @p text followed by enough spaces to fill @p width columns.
std::string pad_to_width(std::string_view text, std::size_t width);

}  // namespace jobgraph::cli
