#pragma once
// How deep JSON from outside may nest (docs/semantics.md). nlohmann::json copies, dumps
// and compares values recursively, so a value nested tens of thousands of levels deep would
// overflow the stack; jobgraph refuses such values where they come in, and never meets them
// past that point.

#include "jobgraph/errors.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string_view>

namespace jobgraph::detail {

/// The deepest nesting accepted: `[[1]]` nests 2 levels, a scalar 0.
inline constexpr std::size_t max_json_depth = 512;

/// Text that nests too deep; to the public API, one more JsonSyntaxError.
class JsonTooDeep : public JsonSyntaxError {
public:
    using JsonSyntaxError::JsonSyntaxError;
};

/// Parses @p text, refusing it once it nests deeper than @p limit levels, without recursing
/// (the value is built bracket by bracket). Both errors name the line and column: JsonTooDeep,
/// "JSON nests deeper than 512 levels at line L, column C", or for malformed text a
/// JsonSyntaxError with the parser's own explanation.
nlohmann::json parse_json_within(std::string_view text, std::size_t limit = max_json_depth);

/// True when @p value nests deeper than @p limit levels. Walks with a stack of its own, never
/// below @p limit + 1 levels, so a value of any depth is safe to ask about.
bool depth_exceeds(const nlohmann::json& value, std::size_t limit = max_json_depth);

}  // namespace jobgraph::detail
