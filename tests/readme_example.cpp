// The first example of README.md, kept compiling and running as a test. Keep the two in step.
#include <jobgraph/jobgraph.hpp>

#include <cctype>
#include <iostream>

int main() {
    using nlohmann::json;
    jobgraph::HandlerRegistry registry;
    // A planner decides at run time how many children to spawn: one per word.
    registry.add("text", "split", [](jobgraph::TaskContext& ctx) {
        json children = json::array();
        for (const auto& word : ctx.input().at("words"))
            children.push_back({{"service", "text"}, {"command", "shout"}, {"input", {{"word", word}}}});
        return json{{"childTasks", children}};
    });
    registry.add("text", "shout", [](jobgraph::TaskContext& ctx) {
        std::string word = ctx.input().at("word");
        for (auto& c : word) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return json{{"shouted", word}};
    });

    jobgraph::JobSpec job{.name = "shout",
                          .tasks = {{.service = "text", .command = "split", .input = {{"words", {"hello", "graph"}}}}}};
    const jobgraph::JobResult result = jobgraph::Orchestrator(registry).run(job);
    for (const auto& task : result.tasks) std::cout << task.id << " " << task.output.dump() << "\n";
    std::cout << to_string(result.status) << "\n";  // 0 {}, 0-0 {"shouted":"HELLO"}, ... succeeded
    return result.status == jobgraph::JobStatus::succeeded ? 0 : 1;
}
