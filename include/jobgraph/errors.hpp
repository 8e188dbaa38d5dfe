#pragma once
/// @file errors.hpp
/// @brief Exceptions thrown by the public API.

#include <stdexcept>
#include <string>
#include <vector>

namespace jobgraph {

/// @brief A job or task specification is invalid. Carries every problem found, not only the first.
class SpecError : public std::runtime_error {
public:
    /// @brief Builds the error from its problems; what() lists them, one per line, under @p heading.
    SpecError(std::string heading, std::vector<std::string> problems);

    /// @brief Each problem, in the order found.
    const std::vector<std::string>& problems() const noexcept { return problems_; }

private:
    std::vector<std::string> problems_;
};

/// @brief JSON text could not be parsed. what() names the line and column.
class JsonSyntaxError : public std::runtime_error {
public:
    JsonSyntaxError(std::string message, std::size_t line, std::size_t column)
        : std::runtime_error(std::move(message)), line_(line), column_(column) {}

    /// @brief 1-based line of the offending character.
    std::size_t line() const noexcept { return line_; }
    /// @brief 1-based column of the offending character.
    std::size_t column() const noexcept { return column_; }

private:
    std::size_t line_;
    std::size_t column_;
};

/// @brief Thrown by a handler (see TaskContext::throw_if_stop_requested) to give up after a stop
/// request; the task then ends `aborted` rather than `failed`.
class StopRequested : public std::runtime_error {
public:
    StopRequested() : std::runtime_error("Stopped on request") {}
    using std::runtime_error::runtime_error;
};

/// @brief Thrown by a handler to fail its task for a reason that trying again cannot fix (a
/// malformed request, a 404, a refused credential): the task is failed without further attempts
/// even when its `retry` field allows more. Any other exception fails only the attempt, which
/// may then be retried.
///
/// @code
/// if (status == 404) throw jobgraph::NonRetryableError("no such record: " + id);
/// @endcode
class NonRetryableError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace jobgraph
