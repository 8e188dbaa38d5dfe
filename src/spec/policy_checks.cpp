#include "spec/policy_checks.hpp"

#include <fmt/format.h>

namespace jobgraph::detail {

void check_task_policy(std::string_view owner, const std::optional<std::chrono::milliseconds>& timeout,
                       const std::optional<RetryPolicy>& retry, std::vector<std::string>& problems) {
    if (timeout && timeout->count() < 0) {
        problems.push_back(fmt::format("{}: timeout must be at least 0, got {}", owner, timeout->count()));
    }
    if (!retry) return;
    if (retry->max_attempts < 1) {
        problems.push_back(fmt::format("{}: retry.maxAttempts must be at least 1, got {}", owner, retry->max_attempts));
    }
    if (retry->delay.count() < 0) {
        problems.push_back(fmt::format("{}: retry.delay must be at least 0, got {}", owner, retry->delay.count()));
    }
    // Written so that a NaN, which C++ can set, fails too.
    if (!(retry->backoff >= 1.0)) {
        problems.push_back(fmt::format("{}: retry.backoff must be at least 1, got {}", owner, retry->backoff));
    }
    if (retry->max_delay < retry->delay) {
        problems.push_back(fmt::format("{}: retry.maxDelay must be at least retry.delay ({}), got {}", owner,
                                       retry->delay.count(), retry->max_delay.count()));
    }
}

namespace {

// A key matches a service by its name, or a pair written "service/command". Every '/' is tried
// as the divide, so that a name holding one is still found.
bool names_registered_pair(std::string_view key, const HandlerRegistry& registry) {
    for (auto slash = key.find('/'); slash != std::string_view::npos; slash = key.find('/', slash + 1)) {
        if (registry.find(key.substr(0, slash), key.substr(slash + 1))) return true;
    }
    return false;
}

}  // namespace

void check_concurrency(const std::map<std::string, std::int64_t, std::less<>>& limits,
                       const HandlerRegistry& registry, std::vector<std::string>& problems) {
    for (const auto& [key, limit] : limits) {
        if (registry.commands_of(key).empty() && !names_registered_pair(key, registry)) {
            const bool pair = key.find('/') != std::string::npos;
            problems.push_back(fmt::format("concurrency: \"{}\" names no registered {}", key,
                                           pair ? "service/command" : "service"));
        }
        if (limit < 1) problems.push_back(fmt::format("concurrency: \"{}\" must be at least 1, got {}", key, limit));
    }
}

}  // namespace jobgraph::detail
