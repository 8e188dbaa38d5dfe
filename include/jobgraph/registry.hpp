#pragma once
/// @file registry.hpp
/// @brief Handlers keyed by service/command, with their plan-mode flag and input check.

#include "jobgraph/context.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobgraph {

/// @brief A handler that runs on a worker and returns its result (see docs/semantics.md).
using Handler = std::function<nlohmann::json(TaskContext&)>;
/// @brief A handler that starts work and returns at once; it fulfils the Completion later.
using AsyncHandler = std::function<void(TaskContext&, Completion)>;
/// @brief Checks a task's input before anything runs; returns a problem, or nullopt if fine.
using InputCheck = std::function<std::optional<std::string>(const nlohmann::json& input)>;

/// @brief How a handler behaves besides its callback.
struct HandlerOptions {
    bool side_effect_free = false;  ///< allowed to run in plan mode
    InputCheck input_check{};       ///< optional
    std::string description{};      ///< one line, for listings
    /// An example input as JSON text, e.g. `{"ms": 100}`; empty if none. Shown to planners
    /// (llm/chat with "plan": true tells the model each service's description and example).
    std::string input_example{};
    /// At most this many calls of the handler run at once across every job an orchestrator
    /// runs (the way to respect a rate-limited service); 0 means no limit. An asynchronous
    /// call counts until its Completion is fulfilled.
    std::size_t max_concurrency = 0;
};

/// @brief A registered handler.
struct HandlerEntry {
    std::string service{};
    std::string command{};
    HandlerOptions options{};
    Handler handler{};             ///< set for a synchronous handler
    AsyncHandler async_handler{};  ///< set for an asynchronous handler

    bool is_async() const noexcept { return static_cast<bool>(async_handler); }
};

/// @brief Looks up handlers by service/command. Not to be changed while a job using it runs.
class HandlerRegistry {
public:
    /// @brief Registers a synchronous handler; throws std::invalid_argument on a duplicate pair,
    /// an empty name or an empty callback.
    HandlerRegistry& add(std::string service, std::string command, Handler handler, HandlerOptions options = {});
    /// @brief Registers an asynchronous handler (same rules as add).
    HandlerRegistry& add_async(std::string service, std::string command, AsyncHandler handler,
                               HandlerOptions options = {});

    /// @brief The handler for the pair, or nullptr.
    const HandlerEntry* find(std::string_view service, std::string_view command) const;
    /// @brief Sorted commands of a service; empty if the service is unknown.
    std::vector<std::string> commands_of(std::string_view service) const;
    /// @brief Every handler, sorted by service then command.
    std::vector<const HandlerEntry*> entries() const;

    /// @brief "Unknown service/command: s/c" plus what the service does have.
    std::string unknown_pair_message(std::string_view service, std::string_view command) const;

private:
    HandlerRegistry& insert(HandlerEntry entry);

    // Nested ordered maps: stable entry addresses and sorted listings without extra work.
    std::map<std::string, std::map<std::string, HandlerEntry, std::less<>>, std::less<>> services_;
};

}  // namespace jobgraph
