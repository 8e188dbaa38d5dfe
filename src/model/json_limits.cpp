#include "model/json_limits.hpp"

#include "jobgraph/errors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace jobgraph::detail {
namespace {

using nlohmann::json;

// Builds the value from nlohmann's SAX events as its own DOM parser does, with one difference:
// a container that would open level limit + 1 stops the parse.
class DepthLimitedBuilder {
public:
    DepthLimitedBuilder(json& root, std::size_t limit) : root_(root), limit_(limit) {}

    bool null() { return put(nullptr); }
    bool boolean(bool value) { return put(value); }
    bool number_integer(json::number_integer_t value) { return put(value); }
    bool number_unsigned(json::number_unsigned_t value) { return put(value); }
    bool number_float(json::number_float_t value, const json::string_t& /*as written*/) { return put(value); }
    bool string(json::string_t& value) { return put(std::move(value)); }
    bool binary(json::binary_t& value) { return put(std::move(value)); }

    bool start_object(std::size_t /*size, unknown for text*/) { return open(json::value_t::object); }
    bool key(json::string_t& key) {
        // A repeated key keeps its last value, as json::parse does.
        slot_ = &(*open_.back())[std::move(key)];
        return true;
    }
    bool end_object() { return close(); }
    bool start_array(std::size_t /*size, unknown for text*/) { return open(json::value_t::array); }
    bool end_array() { return close(); }

    bool parse_error(std::size_t position, const std::string& /*last token*/, const json::exception& error) {
        error_ = Failure{position, error.what()};
        return false;
    }

    bool too_deep() const noexcept { return too_deep_; }
    struct Failure {
        std::size_t byte;  // 1-based, where the parser stopped
        std::string what;
    };
    const std::optional<Failure>& error() const noexcept { return error_; }

private:
    // Where the next value goes: the root, the end of the open array, or the slot of the last key.
    template <typename Value>
    json* place(Value&& value) {
        if (open_.empty()) {
            root_ = json(std::forward<Value>(value));
            return &root_;
        }
        json& container = *open_.back();
        if (container.is_array()) {
            container.emplace_back(std::forward<Value>(value));
            return &container.back();
        }
        *slot_ = json(std::forward<Value>(value));
        return slot_;
    }
    template <typename Value>
    bool put(Value&& value) {
        place(std::forward<Value>(value));
        return true;
    }
    bool open(json::value_t type) {
        if (open_.size() == limit_) {
            too_deep_ = true;
            return false;
        }
        open_.push_back(place(type));
        return true;
    }
    bool close() {
        open_.pop_back();
        return true;
    }

    json& root_;
    std::size_t limit_;
    std::vector<json*> open_;  // the containers still open, outermost first
    json* slot_ = nullptr;
    bool too_deep_ = false;
    std::optional<Failure> error_;
};

struct LineColumn {
    std::size_t line = 1;
    std::size_t column = 1;
};

// 1-based line and column of the byte at @p offset.
LineColumn line_column(std::string_view text, std::size_t offset) {
    LineColumn at;
    const std::size_t stop = std::min(offset, text.size());
    for (std::size_t i = 0; i < stop; ++i) {
        if (text[i] == '\n') {
            ++at.line;
            at.column = 1;
        } else {
            ++at.column;
        }
    }
    return at;
}

// Offset of the bracket that opens level @p level. Only called on text the parser accepted up
// to that bracket, so strings are well formed there.
std::size_t offset_of_level(std::string_view text, std::size_t level) {
    std::size_t depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth == level) return i;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return text.size();
}

// The parser's explanation without its "[json.exception.parse_error.101] parse error at line
// 1, column 2: " lead, which would repeat (in other terms) what our message already says.
std::string_view explanation(std::string_view what) {
    if (const auto bracket = what.find("] "); what.starts_with("[json.exception.") && bracket != what.npos) {
        what.remove_prefix(bracket + 2);
    }
    if (what.starts_with("parse error")) {
        if (const auto colon = what.find(": "); colon != what.npos) what.remove_prefix(colon + 2);
    }
    return what;
}

}  // namespace

json parse_json_within(std::string_view text, std::size_t limit) {
    json root;
    DepthLimitedBuilder builder(root, limit);
    if (json::sax_parse(text, &builder)) return root;
    if (builder.too_deep()) {
        const auto at = line_column(text, offset_of_level(text, limit + 1));
        throw JsonTooDeep(
            fmt::format("JSON nests deeper than {} levels at line {}, column {}", limit, at.line, at.column), at.line,
            at.column);
    }
    const auto& error = builder.error();
    const std::size_t byte = error ? error->byte : text.size() + 1;
    const auto at = line_column(text, byte > 0 ? byte - 1 : 0);
    const std::string_view detail = error ? explanation(error->what) : std::string_view("cannot parse");
    throw JsonSyntaxError(fmt::format("malformed JSON at line {}, column {}: {}", at.line, at.column, detail), at.line,
                          at.column);
}

bool depth_exceeds(const json& value, std::size_t limit) {
    if (!value.is_structured()) return false;
    if (limit == 0) return true;
    struct Pending {
        const json* value;
        std::size_t depth;
    };
    // Containers still to look into; allocated only once a container holds another.
    std::vector<Pending> pending;
    const json* current = &value;
    std::size_t depth = 1;
    const auto look_at = [&](const json& child) {
        if (!child.is_structured()) return false;
        if (depth == limit) return true;
        pending.push_back(Pending{&child, depth + 1});
        return false;
    };
    for (;;) {
        // The containers themselves, not json's iterators: this runs on every task's input.
        if (current->is_object()) {
            for (const auto& [key, child] : current->get_ref<const json::object_t&>()) {
                if (look_at(child)) return true;
            }
        } else {
            for (const json& child : current->get_ref<const json::array_t&>()) {
                if (look_at(child)) return true;
            }
        }
        if (pending.empty()) return false;
        current = pending.back().value;
        depth = pending.back().depth;
        pending.pop_back();
    }
}

}  // namespace jobgraph::detail
