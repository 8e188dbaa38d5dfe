// Proves a program outside the tree can build and run a job against jobgraph.
#include <jobgraph/jobgraph.hpp>

#include <iostream>

int main() {
    jobgraph::HandlerRegistry registry;
    registry.add("math", "square", [](jobgraph::TaskContext& ctx) {
        const int x = ctx.input().at("x");
        return nlohmann::json{{"square", x * x}};
    });
    jobgraph::JobSpec job{.name = "consumer", .tasks = {{.service = "math", .command = "square", .input = {{"x", 7}}}}};
    const auto result = jobgraph::Orchestrator(registry, {.workers = 2}).run(job);
    std::cout << "consumer: " << to_string(result.status) << " " << result.tasks.at(0).output.dump() << "\n";
    return result.tasks.at(0).output == nlohmann::json{{"square", 49}} ? 0 : 1;
}
