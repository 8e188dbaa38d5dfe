// --json and --dot: the job result as JSON in its documented shape, and the task graph as DOT.

#include "cli_harness.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

using namespace cli_test;
using nlohmann::json;

namespace {

bool is_timestamp(const json& value) {
    static const std::regex format(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");
    return value.is_string() && std::regex_match(value.get<std::string>(), format);
}

void check_task_shape(const json& task) {
    INFO(task.dump());
    const std::set<std::string> required{"id",     "parentId", "depth",    "service",   "command",     "input",
                                         "output", "trace",    "status",   "dependsOn", "children",    "attempts",
                                         "history"};
    for (const auto& key : required) CHECK(task.contains(key));
    CHECK(task.at("id").is_string());
    CHECK((task.at("parentId").is_null() || task.at("parentId").is_string()));
    CHECK(task.at("depth").is_number_integer());
    CHECK(task.at("input").is_object());
    CHECK(task.at("dependsOn").is_array());
    CHECK(task.at("children").is_array());
    CHECK(task.at("attempts").is_number_integer());
    const std::set<std::string> statuses{"pending", "planned", "started", "succeeded", "failed", "aborted"};
    CHECK(statuses.contains(task.at("status").get<std::string>()));
    REQUIRE(task.at("history").is_array());
    REQUIRE_FALSE(task.at("history").empty());
    CHECK(task.at("history").front().at("status") == "pending");
    CHECK(task.at("history").back().at("status") == task.at("status"));
    for (const auto& entry : task.at("history")) {
        CHECK(statuses.contains(entry.at("status").get<std::string>()));
        CHECK(is_timestamp(entry.at("at")));
    }
    if (task.at("status") == "succeeded") {
        CHECK(is_timestamp(task.at("startedAt")));
        CHECK(is_timestamp(task.at("completedAt")));
        CHECK(task.at("attempts") == 1);
    }
}

void check_result_shape(const json& result) {
    REQUIRE(result.is_object());
    CHECK(result.at("name").is_string());
    CHECK(result.at("status").is_string());
    CHECK(is_timestamp(result.at("startedAt")));
    CHECK(is_timestamp(result.at("completedAt")));
    const auto& stats = result.at("stats");
    for (const char* key : {"total", "succeeded", "failed", "aborted", "planned", "pending"}) {
        CHECK(stats.at(key).is_number_unsigned());
    }
    CHECK(stats.at("wallMs").is_number());
    CHECK(stats.at("total") == result.at("tasks").size());
    CHECK(stats.at("total").get<int>() == stats.at("succeeded").get<int>() + stats.at("failed").get<int>() +
                                              stats.at("aborted").get<int>() + stats.at("planned").get<int>() +
                                              stats.at("pending").get<int>());
    // Ordered by start time, never-started tasks last.
    bool seen_unstarted = false;
    std::string previous_start;
    for (const auto& task : result.at("tasks")) {
        check_task_shape(task);
        const bool started = task.contains("startedAt") && task.at("startedAt").is_string();
        if (!started) {
            seen_unstarted = true;
            continue;
        }
        CHECK_FALSE(seen_unstarted);
        CHECK(task.at("startedAt").get<std::string>() >= previous_start);
        previous_start = task.at("startedAt").get<std::string>();
    }
}

struct DotGraph {
    std::map<std::string, std::string> status_of;  // task id -> status
    std::map<std::string, std::string> colour_of;  // task id -> fill colour
    std::set<std::tuple<std::string, std::string, std::string>> edges;  // (from, to, kind)
};

// Reads the DOT that jobgraph::write_dot produces: numbered nodes labelled "<id>\n<service>/<command>".
DotGraph parse_dot(const std::string& text) {
    static const std::regex node(R"re(^(\d+)\[label="([^"\\]+)\\n[^"]*".*fillcolor=(\w+), status="(\w+)"\];$)re");
    static const std::regex edge(R"re(^(\d+)->(\d+) \[.*kind=(\w+)\];$)re");
    DotGraph graph;
    std::map<std::string, std::string> id_of;
    std::vector<std::tuple<std::string, std::string, std::string>> numbered_edges;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        std::smatch match;
        if (std::regex_match(line, match, node)) {
            id_of[match[1]] = match[2];
            graph.colour_of[match[2]] = match[3];
            graph.status_of[match[2]] = match[4];
        } else if (std::regex_match(line, match, edge)) {
            numbered_edges.emplace_back(match[1], match[2], match[3]);
        }
    }
    for (const auto& [from, to, kind] : numbered_edges) graph.edges.emplace(id_of.at(from), id_of.at(to), kind);
    return graph;
}

}  // namespace

TEST_CASE("run --json FILE holds the result in the contract's shape", "[cli][json]") {
    for (const std::string job : {"ai-planning.json", "data-processing.json", "conditional-pipeline.json",
                                  "conditional-pipeline-invalid.json", "batch-migration.json"}) {
        INFO(job);
        const auto result = run_job_for_result(example_job(job));
        check_result_shape(result);
        CHECK(result.at("status") == "succeeded");
        CHECK_FALSE(result.contains("errorMessage"));
    }
    SECTION("failed, aborted and planned tasks too") {
        for (const std::string job : {"fail.json", "stop.json", "approval.json", "shell-fail.json"}) {
            INFO(job);
            check_result_shape(run_job_for_result(fixture_job(job)));
        }
    }
    SECTION("a spawned child records its parent and depth") {
        const auto result = run_job_for_result(fixture_job("nested-spawn.json"));
        const auto email = task_of(result, "notify-email");
        CHECK(email.at("parentId") == "notify");
        CHECK(email.at("depth") == 2);
        CHECK(email.at("service") == "shell");
        CHECK(email.at("command") == "run");
        CHECK(email.at("trace").is_null());
        CHECK(task_of(result, "research").at("parentId").is_null());
        CHECK(task_of(result, "planner").at("dependsOn") == json{"research"});
    }
}

TEST_CASE("run --json - writes only the result to stdout - the summary goes to stderr", "[cli][json]") {
    const auto run = run_cli({"run", example_job("batch-migration.json"), "--json", "-"});
    REQUIRE(run.exit_code == 0);
    const auto result = json::parse(run.out);  // throws if anything else is on stdout
    check_result_shape(result);
    CHECK(result.at("name") == "batch-migration");
    CHECK(result.at("stats").at("total") == 8);
    CHECK(run.err.find("job batch-migration: succeeded") != std::string::npos);
}

TEST_CASE("run --dot draws every task spawned children included with status colours", "[cli][dot]") {
    SECTION("nested spawns: dependency edges and dashed child edges") {
        const auto dot_path = scratch_path("graph.dot");
        const auto run = run_cli({"run", fixture_job("nested-spawn.json"), "--dot", dot_path.string(), "--quiet"});
        REQUIRE(run.exit_code == 0);
        const auto text = read_file(dot_path);
        CHECK(text.rfind("digraph", 0) == 0);
        const auto graph = parse_dot(text);
        CHECK(graph.status_of.size() == 8);
        for (const auto& [id, status] : graph.status_of) {
            INFO(id);
            CHECK(status == "succeeded");
            CHECK(graph.colour_of.at(id) == "palegreen");
        }
        using Edge = std::tuple<std::string, std::string, std::string>;
        CHECK(graph.edges == std::set<Edge>{
                                 {"research", "planner", "dependency"},
                                 {"planner", "report", "dependency"},
                                 {"write-summary", "notify", "dependency"},
                                 {"write-proposal", "notify", "dependency"},
                                 {"planner", "write-summary", "child"},
                                 {"planner", "write-proposal", "child"},
                                 {"planner", "notify", "child"},
                                 {"notify", "notify-email", "child"},
                                 {"notify", "notify-chat", "child"},
                             });
        CHECK(text.find("style=dashed, kind=child") != std::string::npos);
    }
    SECTION("a failed job: each status has its colour") {
        const auto dot_path = scratch_path("graph.dot");
        const auto run = run_cli({"run", fixture_job("fail.json"), "--dot", dot_path.string(), "--quiet"});
        REQUIRE(run.exit_code == 1);
        const auto graph = parse_dot(read_file(dot_path));
        CHECK(graph.status_of == std::map<std::string, std::string>{
                                     {"broken", "failed"}, {"after-broken", "aborted"}, {"independent", "succeeded"}});
        CHECK(graph.colour_of.at("broken") == "salmon");
        CHECK(graph.colour_of.at("after-broken") == "orange");
        CHECK(graph.edges == std::set<std::tuple<std::string, std::string, std::string>>{
                                 {"broken", "after-broken", "dependency"}});
    }
    SECTION("planned tasks") {
        const auto dot_path = scratch_path("graph.dot");
        CHECK(run_cli({"run", fixture_job("approval.json"), "--dot", dot_path.string(), "--quiet"}).exit_code == 3);
        const auto graph = parse_dot(read_file(dot_path));
        CHECK(graph.status_of.at("deploy") == "planned");
        CHECK(graph.colour_of.at("deploy") == "lightblue");
    }
}

TEST_CASE("run --dot - writes the graph to stdout and the summary to stderr", "[cli][dot]") {
    std::filesystem::remove("-");  // a file by that name is what older builds wrote
    const auto run = run_cli({"run", fixture_job("fail.json"), "--dot", "-"});
    CHECK(run.exit_code == 1);
    CHECK(run.out.rfind("digraph G {", 0) == 0);
    CHECK(parse_dot(run.out).status_of.size() == 3);
    CHECK(run.err.rfind("job fail: failed", 0) == 0);
    CHECK_FALSE(std::filesystem::exists("-"));
}

TEST_CASE("both --json - and --dot - are refused before anything runs", "[cli][dot][exit]") {
    for (const std::string command : {"run", "resume"}) {
        INFO(command);
        const std::vector<std::string> args =
            command == "run" ? std::vector<std::string>{"run", fixture_job("stop.json"), "--json", "-", "--dot", "-"}
                             : std::vector<std::string>{"resume", "jobs.db", "1", "--json", "-", "--dot", "-"};
        const auto run = run_cli(args);
        CHECK(run.exit_code == 2);
        CHECK(run.out.empty());
        CHECK(run.err == "jobgraph: --json - and --dot - cannot both write to stdout; write one of them to a file\n");
    }
}

TEST_CASE("run --dot keeps ids with quotes, backslashes and control characters inside their strings", "[cli][dot]") {
    const auto job = scratch_path("quoted.json");
    std::ofstream(job)
        << json{{"name", "say \"hi\"\n"},
                {"tasks",
                 {{{"id", "a\"b\\c\nd\x1b"}, {"service", "core"}, {"command", "echo"}},
                  {{"id", "next"}, {"service", "core"}, {"command", "echo"}, {"dependsOn", {"a\"b\\c\nd\x1b"}}}}}}
               .dump();
    const auto run = run_cli({"run", job.string(), "--dot", "-", "--quiet"});
    REQUIRE(run.exit_code == 0);
    CHECK(run.out.find("label=\"say \\\"hi\\\"\\\\n (succeeded)\";") != std::string::npos);
    CHECK(run.out.find(
              "[label=\"a\\\"b\\\\c\\\\nd\\\\x1b\\ncore/echo\", tooltip=\"a\\\"b\\\\c\\\\nd\\\\x1b (succeeded)\"") !=
          std::string::npos);
    CHECK(run.out.find('\x1b') == std::string::npos);
}
