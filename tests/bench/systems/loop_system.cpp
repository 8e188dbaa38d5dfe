// The single-threaded baseline: Kahn's algorithm over the same graph, plain recursion for the
// run-time spawning workload. Same JSON work per task, no pool, no locks.

#include "systems/system.hpp"

#include <vector>

namespace bench {
namespace {

// Kahn's algorithm: successor lists (CSR) and in-degrees, then a ready queue in topological
// order; run(task) for each task in that order.
template <typename Run>
void in_topological_order(const StaticGraph& graph, Run&& run) {
    const std::uint32_t n = graph.size;
    std::vector<std::uint32_t> waits(n, 0);
    std::vector<std::uint32_t> first(n + 1, 0);
    for (std::uint32_t i = 0; i < n; ++i) {
        waits[i] = static_cast<std::uint32_t>(graph.dep_count(i));
        for (auto d = graph.deps_begin(i); d != graph.deps_end(i); ++d) ++first[*d + 1];
    }
    for (std::uint32_t i = 0; i < n; ++i) first[i + 1] += first[i];
    std::vector<std::uint32_t> successors(graph.deps.size());
    std::vector<std::uint32_t> fill(first.begin(), first.end() - 1);
    for (std::uint32_t i = 0; i < n; ++i) {
        for (auto d = graph.deps_begin(i); d != graph.deps_end(i); ++d) successors[fill[*d]++] = i;
    }
    std::vector<std::uint32_t> ready;
    ready.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
        if (waits[i] == 0) ready.push_back(i);
    }
    for (std::size_t next = 0; next < ready.size(); ++next) {
        const std::uint32_t task = ready[next];
        run(task);
        for (std::uint32_t s = first[task]; s < first[task + 1]; ++s) {
            if (--waits[successors[s]] == 0) ready.push_back(successors[s]);
        }
    }
}

class LoopSystem final : public System {
public:
    std::string_view name() const override { return "loop"; }

    RunResult run_graph(const StaticGraph& graph) override {
        const std::uint32_t n = graph.size;
        std::vector<nlohmann::json> inputs(n);
        std::vector<nlohmann::json> outputs(n);
        for (std::uint32_t i = 0; i < n; ++i) inputs[i] = task_input(i);
        in_topological_order(graph, [&](std::uint32_t task) { outputs[task] = task_output(inputs[task]); });
        RunResult result;
        for (const auto& output : outputs) result.checksum.add(output);
        return result;
    }

    RunResult run_empty_graph(const StaticGraph& graph) override {
        RunResult result;
        in_topological_order(graph, [&](std::uint32_t) { ++result.checksum.count; });
        return result;
    }

    RunResult run_recursion(int depth) override {
        std::vector<nlohmann::json> outputs(recursion_size(depth));
        visit(task_input(0), 0, depth, outputs);
        RunResult result;
        for (const auto& output : outputs) result.checksum.add(output);
        return result;
    }

private:
    static void visit(const nlohmann::json& input, int level, int depth, std::vector<nlohmann::json>& outputs) {
        const auto k = input["i"].get<std::uint64_t>();
        outputs[k] = task_output(input);
        if (level == depth) return;
        visit(task_input(2 * k + 1), level + 1, depth, outputs);
        visit(task_input(2 * k + 2), level + 1, depth, outputs);
    }
};

}  // namespace

std::unique_ptr<System> make_loop_system() {
    return std::make_unique<LoopSystem>();
}

}  // namespace bench
