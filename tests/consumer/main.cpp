// Proves a program outside the tree can build and run a job against jobgraph and its built-in
// services, and that the version macros agree with the package it was built against.
#include <jobgraph/jobgraph.hpp>
#include <jobgraph/services.hpp>
#if defined(JOBGRAPH_HAS_POSTGRES)
#include <jobgraph/postgres_store.hpp>
#endif

#include <iostream>
#include <string>
#include <string_view>

static_assert(std::string_view(JOBGRAPH_VERSION_STRING) == JOBGRAPH_EXPECTED_VERSION,
              "jobgraph/version.hpp does not match the package's version");

int main() {
    const std::string numbers = std::to_string(JOBGRAPH_VERSION_MAJOR) + "." + std::to_string(JOBGRAPH_VERSION_MINOR) +
                                "." + std::to_string(JOBGRAPH_VERSION_PATCH);
    if (numbers != JOBGRAPH_VERSION_STRING) {
        std::cerr << "consumer: version numbers " << numbers << " differ from " << JOBGRAPH_VERSION_STRING << "\n";
        return 1;
    }

    jobgraph::HandlerRegistry registry;
    jobgraph::services::register_builtin(registry);
    registry.add("math", "square", [](jobgraph::TaskContext& ctx) {
        const int x = ctx.input().at("x");
        return nlohmann::json{{"square", x * x}};
    });
    jobgraph::JobSpec job{.name = "consumer",
                          .tasks = {{.service = "math", .command = "square", .input = {{"x", 7}}},
                                    {.service = "core", .command = "echo", .input = {{"said", "hello"}}}}};
    const auto result = jobgraph::Orchestrator(registry, {.workers = 2}).run(job);
    std::cout << "consumer: jobgraph " << JOBGRAPH_VERSION_STRING << " " << to_string(result.status) << " "
              << result.at("0").output.dump() << " " << result.at("1").output.dump() << "\n";
    const bool right = result.at("0").output == nlohmann::json{{"square", 49}} &&
                       result.at("1").output == nlohmann::json{{"said", "hello"}};
    if (!right) return 1;
#if defined(JOBGRAPH_HAS_POSTGRES)
    // PostgresStore links (libpq comes along) and reports a server it cannot reach.
    try {
        jobgraph::PostgresStore store("host=/nonexistent/jobgraph-consumer dbname=none connect_timeout=2");
        std::cerr << "consumer: PostgresStore connected to a server that is not there\n";
        return 1;
    } catch (const jobgraph::StoreError& error) {
        std::cout << "consumer: PostgresStore: " << error.what() << "\n";
    }
#endif
    return 0;
}
