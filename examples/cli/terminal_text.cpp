#include "terminal_text.hpp"

#include <fmt/format.h>

#include <array>
#include <utility>

#include <locale.h>
#include <wchar.h>

namespace jobgraph::cli {
namespace {

constexpr std::string_view replacement_character = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

struct Decoded {
    char32_t code_point;
    std::size_t length;  // bytes taken from the text
    bool valid;
};

// One UTF-8 sequence at @p at. Overlong forms, surrogates and values past U+10FFFF are invalid;
// an invalid sequence takes one byte, so the next byte is looked at afresh.
Decoded decode_at(std::string_view text, std::size_t at) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(at);
    constexpr Decoded invalid{0xFFFD, 1, false};
    if (lead < 0x80) return {lead, 1, true};
    std::size_t length = 0;
    char32_t code_point = 0;
    char32_t smallest = 0;
    if ((lead & 0xE0) == 0xC0) {
        length = 2, code_point = lead & 0x1F, smallest = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3, code_point = lead & 0x0F, smallest = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
        length = 4, code_point = lead & 0x07, smallest = 0x10000;
    } else {
        return invalid;
    }
    if (text.size() - at < length) return invalid;
    for (std::size_t i = 1; i < length; ++i) {
        const unsigned char next = byte(at + i);
        if ((next & 0xC0) != 0x80) return invalid;
        code_point = (code_point << 6) | (next & 0x3F);
    }
    if (code_point < smallest || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
        return invalid;
    }
    return {code_point, length, true};
}

void append_visible(std::string& out, std::string_view text, std::size_t at, const Decoded& decoded) {
    const char32_t c = decoded.code_point;
    if (!decoded.valid) {
        out += replacement_character;
    } else if (c == '\n') {
        out += "\\n";
    } else if (c == '\r') {
        out += "\\r";
    } else if (c == '\t') {
        out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
        out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    } else if (c >= 0x80 && c <= 0x9F) {
        out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
        out += text.substr(at, decoded.length);
    }
}

// Used only where the C library has no UTF-8 locale: the common wide and zero-width ranges
// (combining diacritics, zero-width space to joiner, Hangul, CJK, full-width forms, emoji).
int width_from_table(char32_t c) {
    static constexpr std::array<std::pair<char32_t, char32_t>, 7> zero_width{{{0x0300, 0x036F},
                                                                              {0x1AB0, 0x1AFF},
                                                                              {0x1DC0, 0x1DFF},
                                                                              {0x200B, 0x200F},
                                                                              {0x20D0, 0x20FF},
                                                                              {0xFE00, 0xFE0F},
                                                                              {0xFE20, 0xFE2F}}};
    static constexpr std::array<std::pair<char32_t, char32_t>, 10> wide{{{0x1100, 0x115F},
                                                                         {0x2E80, 0x303E},
                                                                         {0x3041, 0xA4CF},
                                                                         {0xAC00, 0xD7A3},
                                                                         {0xF900, 0xFAFF},
                                                                         {0xFE30, 0xFE4F},
                                                                         {0xFF00, 0xFF60},
                                                                         {0xFFE0, 0xFFE6},
                                                                         {0x1F300, 0x1FAFF},
                                                                         {0x20000, 0x3FFFD}}};
    for (const auto& [first, last] : zero_width) {
        if (c >= first && c <= last) return 0;
    }
    for (const auto& [first, last] : wide) {
        if (c >= first && c <= last) return 2;
    }
    return 1;
}

// wcwidth follows the thread's locale; this switches the calling thread to C.UTF-8 (built into
// glibc since 2.35) for as long as it lives, and leaves the program's locale alone.
class Utf8Widths {
public:
    Utf8Widths() : previous_(utf8_locale() ? ::uselocale(utf8_locale()) : nullptr) {}
    ~Utf8Widths() {
        if (previous_) ::uselocale(previous_);
    }
    Utf8Widths(const Utf8Widths&) = delete;
    Utf8Widths& operator=(const Utf8Widths&) = delete;

    int operator()(char32_t c) const {
        if (!previous_) return width_from_table(c);
        const int width = ::wcwidth(static_cast<wchar_t>(c));
        return width < 0 ? 1 : width;  // unassigned or control: one column is the safe guess
    }

private:
    static locale_t utf8_locale() {
        static const locale_t locale = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{});
        return locale;
    }
    locale_t previous_;
};

}  // namespace

std::string terminal_safe(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t at = 0; at < text.size();) {
        const Decoded decoded = decode_at(text, at);
        append_visible(out, text, at, decoded);
        at += decoded.length;
    }
    return out;
}

std::string terminal_safe_lines(std::string_view text) {
    std::string out;
    for (std::size_t start = 0;;) {
        const std::size_t end = text.find('\n', start);
        out += terminal_safe(text.substr(start, end - start));
        if (end == std::string_view::npos) return out;
        out += '\n';
        start = end + 1;
    }
}

std::size_t display_width(std::string_view text) {
    const Utf8Widths width_of;
    std::size_t width = 0;
    for (std::size_t at = 0; at < text.size();) {
        const Decoded decoded = decode_at(text, at);
        width += static_cast<std::size_t>(width_of(decoded.code_point));
        at += decoded.length;
    }
    return width;
}

std::string fit_width(std::string_view text, std::size_t width) {
    if (display_width(text) <= width) return std::string(text);
    const std::string_view ellipsis = width >= 3 ? "..." : "";
    const std::size_t room = width - ellipsis.size();
    const Utf8Widths width_of;
    std::size_t used = 0;
    std::size_t at = 0;
    while (at < text.size()) {
        const Decoded decoded = decode_at(text, at);
        const auto columns = static_cast<std::size_t>(width_of(decoded.code_point));
        if (used + columns > room) break;
        used += columns;
        at += decoded.length;
    }
    return std::string(text.substr(0, at)) + std::string(ellipsis);
}

std::string pad_to_width(std::string_view text, std::size_t width) {
    const std::size_t used = display_width(text);
    return std::string(text) + std::string(used < width ? width - used : 0, ' ');
}

}  // namespace jobgraph::cli
