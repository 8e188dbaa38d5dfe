#pragma once
// How a handler's context reads the outputs of other tasks, without knowing the scheduler.

#include <nlohmann/json.hpp>

#include <optional>
#include <string_view>

namespace jobgraph::detail {

/// Lets a handler read the output of tasks that have succeeded, from any thread.
class OutputSource {
public:
    virtual std::optional<nlohmann::json> output_of(std::string_view task_id) const = 0;

protected:
    ~OutputSource() = default;
};

}  // namespace jobgraph::detail
