#pragma once
// Runs jobs with the built-in services, and talks to the test server directly.

#include <jobgraph/jobgraph.hpp>
#include <jobgraph/services.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>

namespace jobgraph::testing {

using nlohmann::json;

/// The built-in services, registered once; llm/chat keeps a reference to this registry.
inline const HandlerRegistry& builtin_registry() {
    static HandlerRegistry registry;
    static const bool registered = (services::register_builtin(registry), true);
    (void)registered;
    return registry;
}

/// A job of @p tasks (JSON task specs) with the given extra job fields.
inline json job_of(json tasks, json fields = json::object()) {
    json job{{"name", "services-test"}, {"tasks", std::move(tasks)}};
    for (auto& [key, value] : fields.items()) job[key] = value;
    return job;
}

struct TimedResult {
    JobResult result;
    double seconds = 0;
};

inline TimedResult run_timed(const json& job) {
    const auto started = std::chrono::steady_clock::now();
    JobResult result = Orchestrator(builtin_registry(), {.workers = 2}).run(job);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    return {std::move(result), took.count()};
}

inline JobResult run_job(const json& job) {
    return run_timed(job).result;
}

/// The error a failed or aborted task stored.
inline std::string error_of(const TaskRecord& task) {
    return task.output.at("error").get<std::string>();
}

/// Sets an environment variable for the life of the object, then puts back what was there.
class ScopedEnvironment {
public:
    ScopedEnvironment(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
        if (const char* old = std::getenv(name_.c_str())) old_ = old;
        apply(value);
    }
    ScopedEnvironment(const ScopedEnvironment&) = delete;
    ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;
    ~ScopedEnvironment() { apply(old_); }

private:
    void apply(const std::optional<std::string>& value) {
        if (value) {
            ::setenv(name_.c_str(), value->c_str(), 1);
        } else {
            ::unsetenv(name_.c_str());
        }
    }
    std::string name_;
    std::optional<std::string> old_;
};

}  // namespace jobgraph::testing
