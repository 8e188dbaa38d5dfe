// oneTBB: one flow::continue_node per task with an edge per dependency, in an arena of two
// threads; the recursion workload as nested task_groups.

#include "systems/system.hpp"

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <atomic>
#include <deque>
#include <vector>

namespace bench {
namespace {

namespace flow = oneapi::tbb::flow;

using Nodes = std::deque<flow::continue_node<flow::continue_msg>>;  // deque: nodes never move

// Gives node i an edge from each of its dependencies, starts the nodes that have none and
// waits until every node has run.
void connect_and_run(const StaticGraph& graph, Nodes& nodes, flow::graph& g) {
    for (std::uint32_t i = 0; i < graph.size; ++i) {
        for (auto d = graph.deps_begin(i); d != graph.deps_end(i); ++d) flow::make_edge(nodes[*d], nodes[i]);
    }
    for (std::uint32_t i = 0; i < graph.size; ++i) {
        if (graph.dep_count(i) == 0) nodes[i].try_put(flow::continue_msg{});
    }
    g.wait_for_all();
}

class TbbSystem final : public System {
public:
    explicit TbbSystem(int threads) : arena_(threads) {}

    std::string_view name() const override { return "tbb"; }

    RunResult run_graph(const StaticGraph& graph) override {
        RunResult result;
        arena_.execute([&] {
            const std::uint32_t n = graph.size;
            std::vector<nlohmann::json> inputs(n);
            std::vector<nlohmann::json> outputs(n);
            for (std::uint32_t i = 0; i < n; ++i) inputs[i] = task_input(i);

            flow::graph g;
            Nodes nodes;
            for (std::uint32_t i = 0; i < n; ++i) {
                nodes.emplace_back(g, [&inputs, &outputs, i](const flow::continue_msg&) {
                    outputs[i] = task_output(inputs[i]);
                    return flow::continue_msg{};
                });
            }
            connect_and_run(graph, nodes, g);
            for (const auto& output : outputs) result.checksum.add(output);
        });
        return result;
    }

    RunResult run_empty_graph(const StaticGraph& graph) override {
        std::atomic<std::uint64_t> ran{0};
        arena_.execute([&] {
            flow::graph g;
            Nodes nodes;
            for (std::uint32_t i = 0; i < graph.size; ++i) {
                nodes.emplace_back(g, [&ran](const flow::continue_msg&) {
                    ran.fetch_add(1, std::memory_order_relaxed);
                    return flow::continue_msg{};
                });
            }
            connect_and_run(graph, nodes, g);
        });
        RunResult result;
        result.checksum.count = ran.load();
        return result;
    }

    RunResult run_recursion(int depth) override {
        RunResult result;
        arena_.execute([&] {
            std::vector<nlohmann::json> outputs(recursion_size(depth));
            visit(task_input(0), 0, depth, outputs);
            for (const auto& output : outputs) result.checksum.add(output);
        });
        return result;
    }

private:
    static void visit(const nlohmann::json& input, int level, int depth, std::vector<nlohmann::json>& outputs) {
        const auto k = input["i"].get<std::uint64_t>();
        outputs[k] = task_output(input);
        if (level == depth) return;
        oneapi::tbb::task_group group;
        group.run([&] { visit(task_input(2 * k + 1), level + 1, depth, outputs); });
        group.run([&] { visit(task_input(2 * k + 2), level + 1, depth, outputs); });
        group.wait();
    }

    oneapi::tbb::task_arena arena_;
};

}  // namespace

std::unique_ptr<System> make_tbb_system(int threads) {
    return std::make_unique<TbbSystem>(threads);
}

}  // namespace bench
