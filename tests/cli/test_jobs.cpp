// The example jobs and every built-in service, run through the binary.

#include "cli_harness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace cli_test;
using nlohmann::json;

namespace {

std::set<std::string> ids_of(const json& result) {
    std::set<std::string> ids;
    for (const auto& task : result.at("tasks")) ids.insert(task.at("id").get<std::string>());
    return ids;
}

void check_all_succeeded(const json& result, std::size_t expected_total) {
    CHECK(result.at("status") == "succeeded");
    CHECK(result.at("stats").at("total") == expected_total);
    CHECK(result.at("stats").at("succeeded") == expected_total);
    CHECK(result.at("tasks").size() == expected_total);
    for (const auto& task : result.at("tasks")) {
        INFO(task.at("id"));
        CHECK(task.at("status") == "succeeded");
    }
}

std::string stdout_of(const json& result, const std::string& id) {
    return task_of(result, id).at("output").at("stdout").get<std::string>();
}

// Timestamps of one format sort as text in time order.
std::string started(const json& result, const std::string& id) {
    return task_of(result, id).at("startedAt").get<std::string>();
}
std::string completed(const json& result, const std::string& id) {
    return task_of(result, id).at("completedAt").get<std::string>();
}

std::string cpu_summary(int bits64, int bits32, int little, int big) {
    return std::to_string(bits64) + " 64-bit, " + std::to_string(bits32) + " 32-bit; " + std::to_string(little) +
           " little-endian, " + std::to_string(big) + " big-endian\n";
}

// The example jobs run from the repository root, as the README runs them, and write into
// $TMPDIR/jobgraph-examples/<job>; the harness gives every test process its own TMPDIR.
std::filesystem::path example_output(const std::string& job, const std::string& file) {
    return scratch_directory() / "jobgraph-examples" / job / file;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);) lines.push_back(line);
    return lines;
}

// The example job with its planner pointed at another folder, written to a scratch file.
std::string ai_planning_on(const std::filesystem::path& folder) {
    auto job = json::parse(read_file(example_job("ai-planning.json")));
    auto& argv = job.at("tasks").at(0).at("input").at("argv");
    REQUIRE(argv.back() == ".");
    argv.back() = folder.string();
    const auto path = scratch_path("ai-planning.json");
    std::ofstream(path) << job.dump(2);
    return path.string();
}

}  // namespace

TEST_CASE("job ai-planning: the planner decides the review from the files it finds", "[cli][jobs][examples]") {
    // A small tree: two C++ files (a public header, and a source with a marker comment), two JSON
    // files (one malformed), a Markdown file, a file of no known kind, and a build folder to skip.
    const auto tree = scratch_path("project");
    // Spelt in two pieces so that the review of this repository does not count it.
    const std::string marker_comment = std::string("// TO") + "DO: ask again";
    std::filesystem::create_directories(tree / "include" / "lib");
    std::filesystem::create_directories(tree / "src");
    std::filesystem::create_directories(tree / "build");
    std::ofstream(tree / "include" / "lib" / "api.hpp") << "#pragma once\nint answer();\n";
    std::ofstream(tree / "src" / "api.cpp")
        << "#include <lib/api.hpp>\n" + marker_comment + "\nint answer() {\n    return 42;\n}\n";
    std::ofstream(tree / "config.json") << "{\"ok\": true}\n";
    std::ofstream(tree / "broken.json") << "{\n  \"ok\": \n}\n";
    std::ofstream(tree / "README.md") << "# lib\n";
    std::ofstream(tree / "LICENSE") << "MIT\n";
    std::ofstream(tree / "build" / "generated.cpp") << "int x;\n";

    CliRun run;
    const auto result = run_job_for_result(ai_planning_on(tree), &run);
    REQUIRE(run.exit_code == 0);
    check_all_succeeded(result, 8);
    const auto plan = task_of(result, "plan");
    CHECK(plan.at("output") == json{{"summary", "5 files of 3 kinds, 1 others: 7 tasks planned"},
                                    {"tally", {{"C++", 2}, {"JSON", 2}, {"Markdown", 1}}}});
    CHECK(plan.at("children") ==
          json{"count-cpp", "count-json", "count-markdown", "markers", "fingerprint-headers", "check-json", "report"});
    CHECK(plan.at("trace").at("reasons") ==
          json{"2 C++ files: look for TODO/FIXME comments", "1 public headers under include/: record their SHA-256",
               "2 JSON files: check that each parses", "nothing to count for: CMake, Python, shell"});
    CHECK(stdout_of(result, "count-cpp") == "C++: 2 files, 7 lines; longest src/api.cpp (5 lines)\n");
    CHECK(stdout_of(result, "count-markdown") == "Markdown: 1 file, 1 lines; longest README.md (1 lines)\n");
    CHECK(stdout_of(result, "markers") == "TODO/FIXME comments: 1, at src/api.cpp:2\n");
    CHECK(stdout_of(result, "check-json") == "1 of 2 JSON files parse; malformed: broken.json:3\n");
    const auto out = scratch_directory() / "jobgraph-examples" / "ai-planning";
    CHECK(stdout_of(result, "fingerprint-headers") == "1 public headers: SHA-256 sums in headers.sha256\n");
    CHECK(read_file(out / "headers.sha256").ends_with("  include/lib/api.hpp\n"));
    CHECK(stdout_of(result, "report") == "report.txt: 6 findings in " + out.string() + "\n");
    CHECK(lines_of(read_file(out / "report.txt")).at(5) == "1 of 2 JSON files parse; malformed: broken.json:3");
    // The report waited for every other check.
    for (const auto& id : plan.at("children")) {
        if (id == "report") continue;
        CHECK(started(result, "report") >= completed(result, id.get<std::string>()));
    }
}

TEST_CASE("job ai-planning: as shipped, it reviews this repository", "[cli][jobs][examples]") {
    CliRun run;
    const auto result = run_job_for_result(example_job("ai-planning.json"), &run);
    REQUIRE(run.exit_code == 0);
    const auto children = task_of(result, "plan").at("children");
    // Every planned check ran, and the planner's summary counts them.
    check_all_succeeded(result, 1 + children.size());
    const auto summary = task_of(result, "plan").at("output").at("summary").get<std::string>();
    CHECK(summary.ends_with(": " + std::to_string(children.size()) + " tasks planned"));
    for (const std::string id : {"count-cpp", "count-cmake", "markers", "fingerprint-headers", "check-json"}) {
        CHECK(std::find(children.begin(), children.end(), id) != children.end());
    }
    CHECK(children.back() == "report");
    // This repository holds one malformed JSON file on purpose, for the runner's tests.
    CHECK(stdout_of(result, "check-json").find("; malformed: tests/cli/jobs/malformed.json:4") != std::string::npos);
    CHECK(stdout_of(result, "report").starts_with("report.txt: " + std::to_string(children.size() - 1) + " findings"));
}

TEST_CASE("job data-processing: fetch, three transform and write chains, gather", "[cli][jobs][examples]") {
    CliRun run;
    const auto result = run_job_for_result(example_job("data-processing.json"), &run);
    REQUIRE(run.exit_code == 0);
    check_all_succeeded(result, 8);
    CHECK(ids_of(result) == std::set<std::string>{"fetch", "transform-words", "transform-sizes", "transform-digests",
                                                  "write-frequencies", "write-sizes", "write-duplicates", "gather"});
    for (const auto& [transform, write] :
         std::map<std::string, std::string>{{"transform-words", "write-frequencies"},
                                            {"transform-sizes", "write-sizes"},
                                            {"transform-digests", "write-duplicates"}}) {
        CHECK(started(result, transform) >= completed(result, "fetch"));
        CHECK(started(result, write) >= completed(result, transform));
        CHECK(started(result, "gather") >= completed(result, write));
    }
    // What the job read: every license text Debian ships; the symbolic links among them
    // (GPL -> GPL-3, ...) are copied as files, so they come back as identical texts.
    const std::filesystem::path licenses = "/usr/share/common-licenses";
    std::size_t texts = 0;
    std::vector<std::string> links;
    for (const auto& entry : std::filesystem::directory_iterator(licenses)) {
        ++texts;
        if (entry.is_symlink()) {
            links.push_back(entry.path().filename().string() + " = " +
                            std::filesystem::read_symlink(entry.path()).filename().string());
        }
    }
    std::sort(links.begin(), links.end());
    CHECK(stdout_of(result, "fetch").starts_with("fetched " + std::to_string(texts) + " license texts, "));
    CHECK(stdout_of(result, "transform-sizes") ==
          "measured " + std::to_string(texts) + " texts (lines, words, bytes)\n");
    CHECK(lines_of(read_file(example_output("data-processing", "duplicates.txt"))) == links);
    CHECK(lines_of(read_file(example_output("data-processing", "sizes.csv"))).size() == texts + 1);
    CHECK(lines_of(read_file(example_output("data-processing", "word-frequencies.csv"))).size() == 21);
    const auto gathered = task_of(result, "gather").at("output");
    CHECK(gathered.size() == 3);
    CHECK(gathered.at("write-frequencies")
              .at("stdout")
              .get<std::string>()
              .starts_with("word-frequencies.csv, top 3: license "));
    CHECK(gathered.at("write-duplicates").at("exitCode") == 0);
}

namespace {

// Rows of dpkg's CPU table, and how many have 64-bit pointers and little-endian byte order.
struct CpuTable {
    int rows = 0;
    int bits64 = 0;
    int little = 0;
};

CpuTable read_cputable() {
    CpuTable table;
    for (const auto& line : lines_of(read_file("/usr/share/dpkg/cputable"))) {
        if (line.empty() || line.front() == '#') continue;
        std::istringstream fields(line);
        std::string debian, gnu, regex, bits, endianness;
        fields >> debian >> gnu >> regex >> bits >> endianness;
        ++table.rows;
        table.bits64 += bits == "64";
        table.little += endianness == "little";
    }
    return table;
}

}  // namespace

TEST_CASE("job conditional-pipeline: a valid table takes import, summarise, publish", "[cli][jobs][examples]") {
    CliRun run;
    const auto result = run_job_for_result(example_job("conditional-pipeline.json"), &run);
    REQUIRE(run.exit_code == 0);
    check_all_succeeded(result, 5);
    CHECK(ids_of(result) == std::set<std::string>{"fetch", "validate", "import", "summarise", "publish"});
    const auto table = read_cputable();
    const auto validated = task_of(result, "validate").at("output");
    CHECK(validated.at("valid") == true);
    CHECK(validated.at("rows") == table.rows);
    CHECK(validated.at("problems") == json::array());
    CHECK(task_of(result, "validate").at("children") == json{"import", "summarise", "publish"});
    CHECK(stdout_of(result, "summarise") ==
          cpu_summary(table.bits64, table.rows - table.bits64, table.little, table.rows - table.little));
    CHECK(started(result, "summarise") >= completed(result, "import"));
    CHECK(started(result, "publish") >= completed(result, "summarise"));
    CHECK(lines_of(read_file(example_output("conditional-pipeline", "cputable.csv"))).size() ==
          static_cast<std::size_t>(table.rows) + 1);
}

TEST_CASE("job conditional-pipeline-invalid: a damaged table takes quarantine, report-problems",
          "[cli][jobs][examples]") {
    CliRun run;
    const auto result = run_job_for_result(example_job("conditional-pipeline-invalid.json"), &run);
    REQUIRE(run.exit_code == 0);
    check_all_succeeded(result, 4);
    CHECK(ids_of(result) == std::set<std::string>{"fetch", "validate", "quarantine", "report-problems"});
    const auto validated = task_of(result, "validate").at("output");
    CHECK(validated.at("valid") == false);
    const auto problems = validated.at("problems");
    REQUIRE(problems.size() == 2);
    CHECK(problems[0].get<std::string>().ends_with(": amd64: endianness must be little or big, got middle"));
    CHECK(problems[1].get<std::string>().ends_with(": i386: bits must be 32 or 64, got 31"));
    CHECK(started(result, "report-problems") >= completed(result, "quarantine"));
    CHECK(stdout_of(result, "report-problems") == "2 problems, first: " + problems[0].get<std::string>() + "\n");
    CHECK(lines_of(read_file(example_output("conditional-pipeline-invalid", "problems.txt"))) ==
          std::vector<std::string>{problems[0], problems[1]});
}

TEST_CASE("job batch-migration: create, then delete-old and migrate, then import, verify, notify",
          "[cli][jobs][examples]") {
    CliRun run;
    const auto result = run_job_for_result(example_job("batch-migration.json"), &run);
    REQUIRE(run.exit_code == 0);
    check_all_succeeded(result, 8);
    CHECK(task_of(result, "migrate").at("children") == json{"migrate-schema", "migrate-priorities"});
    for (const std::string id : {"delete-old", "migrate"}) CHECK(started(result, id) >= completed(result, "create"));
    // import waits for migrate's spawned children too (join semantics).
    for (const std::string id : {"delete-old", "migrate-schema", "migrate-priorities"}) {
        CHECK(started(result, "import") >= completed(result, id));
    }
    CHECK(started(result, "verify") >= completed(result, "import"));
    CHECK(started(result, "notify") >= completed(result, "verify"));
    CHECK(stdout_of(result, "verify").starts_with("verified: integrity ok, schema v2, "));
    CHECK(stdout_of(result, "notify").starts_with("ready: "));

    // The database itself, read back with the sqlite3 program.
    const auto db = example_output("batch-migration", "inventory.db").string();
    const auto query = [&](const std::string& sql) { return run_binary("sqlite3", {db, sql}).out; };
    CHECK(query("PRAGMA user_version") == "2\n");
    CHECK(query("SELECT count(*) FROM packages WHERE files IS NULL OR priority = 'extra'") == "0\n");
    CHECK(query("SELECT count(*) FROM sqlite_master WHERE name IN ('docs_by_package', 'staged_files')") == "1\n");
    CHECK(query("SELECT count(*) > 0 FROM packages") == "1\n");
}

TEST_CASE("every built-in service does what docs/services.md says", "[cli][services]") {
    CliRun run;
    const auto result = run_job_for_result(fixture_job("every-service.json"), &run);
    REQUIRE(run.exit_code == 0);
    check_all_succeeded(result, 10);

    SECTION("core/echo returns its input, even keys the library would otherwise interpret") {
        CHECK(task_of(result, "echo").at("output") == json{{"city", "Lyon"}, {"childTasks", "not obeyed"}});
        CHECK(task_of(result, "echo").at("children").empty());
    }
    SECTION("core/sleep") {
        CHECK(task_of(result, "nap").at("output") == json{{"sleptMs", 5}});
    }
    SECTION("shell/run with cwd, env, and both streams") {
        CHECK(task_of(result, "where").at("output") == json{{"exitCode", 0}, {"stdout", "/\n"}, {"stderr", ""}});
        CHECK(stdout_of(result, "greet") == "bonjour\n");
        CHECK(task_of(result, "both").at("output") ==
              json{{"exitCode", 0}, {"stdout", "to-out\n"}, {"stderr", "to-err\n"}});
    }
    SECTION("core/spawn nests and outputs its \"output\" (or {})") {
        CHECK(task_of(result, "fan").at("output") == json{{"planned", 2}});
        CHECK(task_of(result, "fan").at("children") == json{"fan-0", "fan-1"});
        CHECK(task_of(result, "fan-1").at("output") == json::object());
        CHECK(task_of(result, "fan-1-0").at("depth") == 2);
        CHECK(task_of(result, "fan-1-0").at("output") == json{{"n", 2}});
    }
    SECTION("core/gather collects every declared dependency") {
        const auto gathered = task_of(result, "gather").at("output");
        CHECK(gathered.size() == 4);
        CHECK(gathered.at("echo") == task_of(result, "echo").at("output"));
        CHECK(gathered.at("nap") == json{{"sleptMs", 5}});
        CHECK(gathered.at("where").at("stdout") == "/\n");
        CHECK(gathered.at("fan") == json{{"planned", 2}});
    }
}

TEST_CASE("core/fail fails its task - dependents are aborted independent work goes on", "[cli][services]") {
    CliRun run;
    const auto result = run_job_for_result(fixture_job("fail.json"), &run);
    CHECK(run.exit_code == 1);
    CHECK(result.at("status") == "failed");
    CHECK(task_of(result, "broken").at("status") == "failed");
    CHECK(task_of(result, "broken").at("output") == json{{"error", "disk quota exceeded"}});
    CHECK(task_of(result, "after-broken").at("status") == "aborted");
    CHECK(task_of(result, "after-broken").at("output") == json{{"error", "Aborted: dependency broken failed"}});
    CHECK(task_of(result, "independent").at("status") == "succeeded");
    CHECK(result.at("stats").at("failed") == 1);
    CHECK(result.at("stats").at("aborted") == 1);
}

TEST_CASE("shell/run fails on a non-zero exit and on a program that does not exist", "[cli][services][shell]") {
    CliRun run;
    const auto result = run_job_for_result(fixture_job("shell-fail.json"), &run);
    CHECK(run.exit_code == 1);
    CHECK(result.at("stats").at("failed") == 3);
    const auto error_of = [&](const std::string& id) {
        const auto task = task_of(result, id);
        CHECK(task.at("status") == "failed");
        return task.at("output").at("error").get<std::string>();
    };
    CHECK(error_of("list").rfind("ls exited with status 2: ls: cannot access '/no/such/directory'", 0) == 0);
    CHECK(error_of("missing") == "cannot run no-such-program-jobgraph: No such file or directory");
    CHECK(error_of("exit3") == "sh exited with status 3");
}

TEST_CASE("a stop request kills the running program and aborts its task", "[cli][services][shell][stop]") {
    CliRun run;
    const auto result = run_job_for_result(fixture_job("stop.json"), &run);
    CHECK(run.exit_code == 1);
    // Generous bound: `sleep 10` would take 10 s if it were not killed.
    CHECK(run.seconds < 5.0);
    CHECK(result.at("status") == "failed");
    CHECK(result.at("errorMessage").get<std::string>().rfind("Job execution timeout: 200ms limit exceeded.", 0) == 0);
    CHECK(task_of(result, "long").at("status") == "aborted");
    CHECK(task_of(result, "long").at("output") == json{{"error", "Stopped on request: sleep was killed"}});
    CHECK(task_of(result, "nap").at("status") == "aborted");
    CHECK(task_of(result, "after").at("status") == "aborted");
    CHECK(result.at("stats").at("aborted") == 3);
}

TEST_CASE("core/sleep with the largest ms sleeps until the job stops it", "[cli][services]") {
    const auto job = scratch_path("forever.json");
    std::ofstream(job) << json{{"name", "forever"},
                               {"timeout", 300},
                               {"tasks",
                                {{{"id", "nap"},
                                  {"service", "core"},
                                  {"command", "sleep"},
                                  {"input", {{"ms", std::numeric_limits<std::int64_t>::max()}}}}}}}
                              .dump();
    CliRun run;
    const auto result = run_job_for_result(job.string(), &run);
    CHECK(run.exit_code == 1);
    CHECK(run.seconds >= 0.3);
    CHECK(run.seconds < 10.0);
    CHECK(task_of(result, "nap").at("status") == "aborted");
    CHECK(result.at("errorMessage").get<std::string>().rfind("Job execution timeout: 300ms limit exceeded", 0) == 0);
}
