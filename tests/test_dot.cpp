// DOT export of a finished job.
#include "helpers.hpp"

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
