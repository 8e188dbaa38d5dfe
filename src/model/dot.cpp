#include "jobgraph/dot.hpp"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/graphviz.hpp>

#include <fmt/format.h>

#include <sstream>
#include <unordered_map>

namespace jobgraph {
namespace {

enum class EdgeKind { dependency, child };

using DotGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property, EdgeKind>;

std::string_view fill_colour(TaskStatus status) {
    switch (status) {
        case TaskStatus::succeeded:
            return "palegreen";
        case TaskStatus::failed:
            return "salmon";
        case TaskStatus::aborted:
            return "orange";
        case TaskStatus::planned:
            return "lightblue";
        case TaskStatus::started:
            return "khaki";
        case TaskStatus::pending:
            break;
    }
    return "lightgrey";
}

// The text between DOT's double quotes.
std::string escaped(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

std::string dot_string(std::string_view text) {
    return '"' + escaped(text) + '"';
}

}  // namespace

void write_dot(std::ostream& out, const JobResult& result) {
    const auto& tasks = result.tasks;
    std::unordered_map<std::string_view, std::size_t> index;
    for (std::size_t i = 0; i < tasks.size(); ++i) index.emplace(tasks[i].id, i);

    DotGraph graph(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        for (const auto& dep : tasks[i].depends_on) {
            if (const auto it = index.find(dep); it != index.end())
                boost::add_edge(it->second, i, EdgeKind::dependency, graph);
        }
        for (const auto& child : tasks[i].children) {
            if (const auto it = index.find(child); it != index.end())
                boost::add_edge(i, it->second, EdgeKind::child, graph);
        }
    }

    auto vertex_writer = [&](std::ostream& os, std::size_t v) {
        const TaskRecord& task = tasks[v];
        os << fmt::format("[label={}, tooltip={}, fillcolor={}, status={}]",
                          fmt::format("\"{}\\n{}/{}\"", escaped(task.id), escaped(task.service), escaped(task.command)),
                          dot_string(fmt::format("{} ({})", task.id, to_string(task.status))), fill_colour(task.status),
                          dot_string(to_string(task.status)));
    };
    auto edge_writer = [&](std::ostream& os, DotGraph::edge_descriptor e) {
        os << (graph[e] == EdgeKind::child ? "[style=dashed, kind=child]" : "[kind=dependency]");
    };
    auto graph_writer = [&](std::ostream& os) {
        os << "label=" << dot_string(fmt::format("{} ({})", result.name, to_string(result.status))) << ";\n";
        os << "rankdir=LR;\nnode [shape=box, style=\"rounded,filled\"];\n";
    };
    boost::write_graphviz(out, graph, vertex_writer, edge_writer, graph_writer);
}

std::string to_dot(const JobResult& result) {
    std::ostringstream out;
    write_dot(out, result);
    return out.str();
}

}  // namespace jobgraph
