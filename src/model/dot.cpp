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
        case TaskStatus::retrying:
            return "gold";
        case TaskStatus::pending:
            break;
    }
    return "lightgrey";
}

struct CodePoint {
    char32_t value;
    std::size_t length;  // bytes it takes in the text
    bool valid;
};

// One UTF-8 sequence at @p at; an invalid one (overlong, surrogate, past U+10FFFF, cut short)
// takes a single byte.
CodePoint decode_utf8_at(std::string_view text, std::size_t at) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    constexpr CodePoint invalid{0xFFFD, 1, false};
    const unsigned char lead = byte(at);
    if (lead < 0x80) return {lead, 1, true};
    std::size_t length = 0;
    char32_t value = 0;
    char32_t smallest = 0;
    if ((lead & 0xE0) == 0xC0) {
        length = 2, value = lead & 0x1F, smallest = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3, value = lead & 0x0F, smallest = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
        length = 4, value = lead & 0x07, smallest = 0x10000;
    } else {
        return invalid;
    }
    if (text.size() - at < length) return invalid;
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(at + i) & 0xC0) != 0x80) return invalid;
        value = (value << 6) | (byte(at + i) & 0x3F);
    }
    if (value < smallest || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return invalid;
    return {value, length, true};
}

// The text between DOT's double quotes, shown as written. Quotes and backslashes are escaped
// (so no \N, \G or \l of Graphviz's label language applies), control characters, NUL among
// them, appear as visible escapes such as \n or \x1b, and bytes that are not UTF-8 (the
// charset DOT files default to) become U+FFFD.
std::string escaped(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t at = 0; at < text.size();) {
        const CodePoint c = decode_utf8_at(text, at);
        if (!c.valid) {
            out += "\xEF\xBF\xBD";
        } else if (c.value == '"' || c.value == '\\') {
            out += '\\';
            out += static_cast<char>(c.value);
        } else if (c.value == '\n') {
            out += "\\\\n";
        } else if (c.value == '\r') {
            out += "\\\\r";
        } else if (c.value == '\t') {
            out += "\\\\t";
        } else if (c.value < 0x20 || c.value == 0x7F) {
            out += fmt::format("\\\\x{:02x}", static_cast<unsigned>(c.value));
        } else if (c.value >= 0x80 && c.value <= 0x9F) {
            out += fmt::format("\\\\u{:04x}", static_cast<unsigned>(c.value));
        } else {
            out += text.substr(at, c.length);
        }
        at += c.length;
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
