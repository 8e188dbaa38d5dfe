#include "jobgraph/errors.hpp"

#include <fmt/format.h>

namespace jobgraph {

SpecError::SpecError(std::string heading, std::vector<std::string> problems)
    : std::runtime_error(fmt::format("{}\n{}", heading, fmt::join(problems, "\n"))), problems_(std::move(problems)) {}

}  // namespace jobgraph
