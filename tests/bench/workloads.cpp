#include "workloads.hpp"

#include <algorithm>
#include <random>

namespace bench {
namespace {

std::uint64_t mix(std::uint64_t x) {
    // splitmix64 finaliser: a cheap, well-spread function of the index.
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

}  // namespace

StaticGraph random_dag(std::uint32_t size, std::uint32_t max_deps, std::uint32_t window, std::uint64_t seed) {
    StaticGraph graph;
    graph.shape = "dag";
    graph.size = size;
    graph.offsets.reserve(size + 1);
    graph.offsets.push_back(0);
    std::mt19937_64 rng(seed);
    std::vector<std::uint32_t> picked;
    for (std::uint32_t i = 0; i < size; ++i) {
        const std::uint32_t lo = i > window ? i - window : 0;
        const std::uint32_t available = i - lo;
        const auto wanted = std::min<std::uint32_t>(static_cast<std::uint32_t>(rng() % (max_deps + 1)), available);
        picked.clear();
        while (picked.size() < wanted) {
            const auto dep = static_cast<std::uint32_t>(lo + rng() % available);
            if (std::find(picked.begin(), picked.end(), dep) == picked.end()) picked.push_back(dep);
        }
        graph.deps.insert(graph.deps.end(), picked.begin(), picked.end());
        graph.offsets.push_back(static_cast<std::uint32_t>(graph.deps.size()));
    }
    return graph;
}

StaticGraph chain(std::uint32_t size) {
    StaticGraph graph;
    graph.shape = "chain";
    graph.size = size;
    graph.offsets.reserve(size + 1);
    graph.offsets.push_back(0);
    for (std::uint32_t i = 0; i < size; ++i) {
        if (i > 0) graph.deps.push_back(i - 1);
        graph.offsets.push_back(static_cast<std::uint32_t>(graph.deps.size()));
    }
    return graph;
}

StaticGraph fan_out(std::uint32_t width) {
    StaticGraph graph;
    graph.shape = "fanout";
    graph.size = width + 2;
    graph.offsets.reserve(graph.size + 1);
    graph.offsets.push_back(0);
    graph.offsets.push_back(0);  // the source
    for (std::uint32_t i = 1; i <= width; ++i) {
        graph.deps.push_back(0);
        graph.offsets.push_back(static_cast<std::uint32_t>(graph.deps.size()));
    }
    for (std::uint32_t i = 1; i <= width; ++i) graph.deps.push_back(i);  // the sink
    graph.offsets.push_back(static_cast<std::uint32_t>(graph.deps.size()));
    return graph;
}

void add_sleeps(StaticGraph& graph, std::uint32_t min_ms, std::uint32_t max_ms, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    graph.sleep_ms.resize(graph.size);
    for (auto& ms : graph.sleep_ms) ms = min_ms + static_cast<std::uint32_t>(rng() % (max_ms - min_ms + 1));
}

double critical_path_ms(const StaticGraph& graph) {
    std::vector<double> finish(graph.size, 0.0);
    double longest = 0.0;
    for (std::uint32_t i = 0; i < graph.size; ++i) {
        double start = 0.0;
        for (auto d = graph.deps_begin(i); d != graph.deps_end(i); ++d) start = std::max(start, finish[*d]);
        finish[i] = start + graph.sleep_ms[i];
        longest = std::max(longest, finish[i]);
    }
    return longest;
}

double wave_makespan_ms(const StaticGraph& graph) {
    std::vector<std::uint32_t> wave(graph.size, 0);
    std::vector<double> wave_length;
    for (std::uint32_t i = 0; i < graph.size; ++i) {
        std::uint32_t w = 0;
        for (auto d = graph.deps_begin(i); d != graph.deps_end(i); ++d) w = std::max(w, wave[*d] + 1);
        wave[i] = w;
        if (wave_length.size() <= w) wave_length.resize(w + 1, 0.0);
        wave_length[w] = std::max<double>(wave_length[w], graph.sleep_ms[i]);
    }
    double total = 0.0;
    for (const double length : wave_length) total += length;
    return total;
}

nlohmann::json task_input(std::uint64_t index) {
    nlohmann::json input;
    input["i"] = index;
    input["x"] = mix(index) >> 16;
    return input;
}

nlohmann::json task_output(const nlohmann::json& input) {
    const auto i = input["i"].get<std::uint64_t>();
    const auto x = input["x"].get<std::uint64_t>();
    nlohmann::json output;
    output["i"] = i;
    output["y"] = (x * 3 + 1) & 0xffffffffffffULL;
    output["tag"] = "done";
    return output;
}

std::uint64_t output_digest(const nlohmann::json& output) {
    const auto i = output["i"].get<std::uint64_t>();
    const auto y = output["y"].get<std::uint64_t>();
    const auto& tag = output["tag"].get_ref<const std::string&>();
    return mix(i * 0x100000001b3ULL ^ y) + tag.size();
}

}  // namespace bench
