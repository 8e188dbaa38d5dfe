// What the nesting limit costs when reading a job: the benchmark's 100,000-task DAG spec as
// JSON text, parsed by plain json::parse, by jobgraph's depth-limited SAX parse, and by
// json::parse with a callback that checks the depth. Runs are interleaved, the order rotating,
// one untimed warm-up each; prints the median of each, its ratio to the plain parse, and the
// median of the ratios paired by repetition.
//
//   json_depth_cost [repetitions]   (default 9)

#include "model/json_limits.hpp"
#include "workloads.hpp"

#include <jobgraph/jobgraph.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using nlohmann::json;

std::string dag_spec_text() {
    const bench::StaticGraph graph = bench::random_dag(100'000, 4, 1'000, 42);
    jobgraph::JobSpec job;
    job.name = "dag";
    job.limits.max_tasks = graph.size;
    for (std::uint32_t i = 0; i < graph.size; ++i) {
        auto& task = job.tasks.emplace_back();
        task.service = "bench";
        task.command = "work";
        task.input = bench::task_input(i);
        for (auto d = graph.deps_begin(i); d != graph.deps_end(i); ++d) task.depends_on.push_back(std::to_string(*d));
    }
    return json(job).dump(2);
}

json parse_with_callback(const std::string& text) {
    // The callback sees each container's depth as it opens (0 for the outermost).
    return json::parse(text, [](int depth, json::parse_event_t event, json& /*parsed*/) {
        if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
            static_cast<std::size_t>(depth) >= jobgraph::detail::max_json_depth) {
            throw std::runtime_error("too deep");
        }
        return true;
    });
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
    const int repetitions = argc > 1 ? std::atoi(argv[1]) : 9;
    const std::string text = dag_spec_text();
    const json expected = json::parse(text);

    struct Way {
        const char* name;
        std::function<json(const std::string&)> parse;
        std::vector<double> ms;
    };
    std::array<Way, 3> ways{{
        {"json::parse", [](const std::string& t) { return json::parse(t); }, {}},
        {"parse_json_within (SAX)", [](const std::string& t) { return jobgraph::detail::parse_json_within(t); }, {}},
        {"json::parse + callback", parse_with_callback, {}},
    }};
    for (auto& way : ways) {
        if (way.parse(text) != expected) {
            fmt::print(stderr, "{} built a different value\n", way.name);
            return 1;
        }
    }
    for (int r = 0; r < repetitions; ++r) {
        for (std::size_t k = 0; k < ways.size(); ++k) {
            auto& way = ways[(k + static_cast<std::size_t>(r)) % ways.size()];
            const auto start = std::chrono::steady_clock::now();
            const json parsed = way.parse(text);
            const auto stop = std::chrono::steady_clock::now();
            way.ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
        }
    }
    const double plain = median(ways[0].ms);
    fmt::print("{} bytes of JSON, {} tasks, {} runs each (median ms, ratio to json::parse)\n", text.size(),
               expected["tasks"].size(), repetitions);
    for (const auto& way : ways) {
        const double m = median(way.ms);
        std::vector<double> paired;
        for (std::size_t r = 0; r < way.ms.size(); ++r) paired.push_back(way.ms[r] / ways[0].ms[r]);
        fmt::print("{:<26} {:8.1f} ms  {:5.3f}x  paired {:5.3f}x  min {:.1f} max {:.1f}\n", way.name, m, m / plain,
                   median(paired), *std::min_element(way.ms.begin(), way.ms.end()),
                   *std::max_element(way.ms.begin(), way.ms.end()));
    }

    // What reading and validating add per task: one depth_exceeds over its input, each.
    std::vector<const json*> inputs;
    for (const auto& task : expected["tasks"]) inputs.push_back(&task.at("input"));
    std::vector<double> walk_ms;
    std::size_t deep = 0;
    for (int r = 0; r < repetitions; ++r) {
        const auto start = std::chrono::steady_clock::now();
        for (const json* input : inputs) deep += jobgraph::detail::depth_exceeds(*input) ? 1 : 0;
        const auto stop = std::chrono::steady_clock::now();
        walk_ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
    }
    fmt::print("depth_exceeds on every task's input: {:.2f} ms median ({} too deep)\n", median(walk_ms), deep);
    return 0;
}
