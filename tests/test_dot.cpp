// DOT export of a finished job.
#include "helpers.hpp"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/graphviz.hpp>
#include <boost/property_map/property_map.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

using namespace jobgraph;
using namespace jobgraph::testing;

TEST_CASE("DOT export holds every task with its status and both kinds of edge", "[dot]") {
    const auto registry = basic_registry();
    const json children = json::array({child("t", "echo")});
    JobSpec spec = job({task("t", "spawn", {{"children", children}}), task("t", "fail", {}, {"0"}, "bad")}, "pic");
    const auto result = run(registry, spec);
    const std::string dot = to_dot(result);
    CHECK_THAT(dot, Catch::StartsWith("digraph G {"));
    CHECK_THAT(dot, Catch::Contains("label=\"pic (failed)\";"));
    CHECK_THAT(dot,
               Catch::Contains(
                   "[label=\"0\\nt/spawn\", tooltip=\"0 (succeeded)\", fillcolor=palegreen, status=\"succeeded\"]"));
    CHECK_THAT(dot, Catch::Contains(
                        "[label=\"bad\\nt/fail\", tooltip=\"bad (failed)\", fillcolor=salmon, status=\"failed\"]"));
    // Tasks in result order: 0, 0-0, bad (0-0 and bad may swap). Count the edges of each kind.
    std::size_t dependency_edges = 0;
    std::size_t child_edges = 0;
    for (std::size_t pos = 0; (pos = dot.find("->", pos)) != std::string::npos; ++pos) {
        const auto end = dot.find('\n', pos);
        const std::string line = dot.substr(pos, end - pos);
        if (line.find("kind=child") != std::string::npos) ++child_edges;
        if (line.find("kind=dependency") != std::string::npos) ++dependency_edges;
    }
    CHECK(dependency_edges == 1);
    CHECK(child_edges == 1);
}

namespace {

TaskRecord record(std::string id, TaskStatus status, std::vector<std::string> depends_on = {}) {
    TaskRecord task;
    task.id = std::move(id);
    task.service = "core";
    task.command = "echo";
    task.status = status;
    task.depends_on = std::move(depends_on);
    return task;
}

// Reads @p dot with Boost.Graph's DOT parser; each node's label and tooltip, in order.
std::vector<std::pair<std::string, std::string>> read_back(const std::string& dot, std::size_t& edges,
                                                           std::string& graph_label) {
    using Graph = boost::adjacency_list<
        boost::vecS, boost::vecS, boost::directedS, boost::property<boost::vertex_name_t, std::string>,
        boost::property<boost::edge_name_t, std::string>, boost::property<boost::graph_name_t, std::string>>;
    Graph graph;
    std::vector<std::string> labels;
    std::vector<std::string> tooltips;
    boost::dynamic_properties properties(boost::ignore_other_properties);
    std::map<Graph::vertex_descriptor, std::string> label_of;
    std::map<Graph::vertex_descriptor, std::string> tooltip_of;
    properties.property("label", boost::make_assoc_property_map(label_of));
    properties.property("tooltip", boost::make_assoc_property_map(tooltip_of));
    boost::ref_property_map<Graph*, std::string> graph_label_map(boost::get_property(graph, boost::graph_name));
    properties.property("label", graph_label_map);
    REQUIRE(boost::read_graphviz(dot, graph, properties));
    edges = boost::num_edges(graph);
    graph_label = boost::get_property(graph, boost::graph_name);
    std::vector<std::pair<std::string, std::string>> nodes;
    for (std::size_t v = 0; v < boost::num_vertices(graph); ++v) nodes.emplace_back(label_of[v], tooltip_of[v]);
    return nodes;
}

}  // namespace

TEST_CASE("DOT export escapes ids and names: the output is valid DOT whatever they hold", "[dot]") {
    JobResult result;
    result.name = "say \"hi\" \\o/\n";
    result.status = JobStatus::failed;
    const std::string with_nul("nul\0id", 6);
    result.tasks = {record(with_nul, TaskStatus::succeeded),
                    record("q\"b\\s\nn\x1b[31m\x7f\xc2\x85", TaskStatus::failed, {with_nul}),
                    record("bad\xff\xfe", TaskStatus::aborted)};
    const std::string dot = to_dot(result);

    // Nothing raw: no NUL, no control character but the line breaks between statements, all UTF-8.
    for (const char c : dot) {
        const auto byte = static_cast<unsigned char>(c);
        INFO(static_cast<int>(byte));
        CHECK(((byte >= 0x20 && byte != 0x7F) || c == '\n'));
    }
    CHECK_NOTHROW(json(dot).dump());  // throws on bytes that are not UTF-8

    CHECK_THAT(dot, Catch::Contains("label=\"say \\\"hi\\\" \\\\o/\\\\n (failed)\";"));
    CHECK_THAT(dot, Catch::Contains("[label=\"nul\\\\x00id\\ncore/echo\", tooltip=\"nul\\\\x00id (succeeded)\""));
    CHECK_THAT(dot, Catch::Contains("[label=\"q\\\"b\\\\s\\\\nn\\\\x1b[31m\\\\x7f\\\\u0085\\ncore/echo\""));
    CHECK_THAT(dot, Catch::Contains("[label=\"bad\xEF\xBF\xBD\xEF\xBF\xBD\\ncore/echo\""));

    // A DOT parser reads it back whole: three nodes, the edge, every string ending where it should.
    std::size_t edges = 0;
    std::string graph_label;
    const auto nodes = read_back(dot, edges, graph_label);
    CHECK(edges == 1);
    CHECK(graph_label == "say \"hi\" \\\\o/\\\\n (failed)");
    REQUIRE(nodes.size() == 3);
    CHECK(nodes[0] == std::pair<std::string, std::string>{"nul\\\\x00id\\ncore/echo", "nul\\\\x00id (succeeded)"});
    CHECK(nodes[1].first == "q\"b\\\\s\\\\nn\\\\x1b[31m\\\\x7f\\\\u0085\\ncore/echo");
    CHECK(nodes[2].second == "bad\xEF\xBF\xBD\xEF\xBF\xBD (aborted)");
}
