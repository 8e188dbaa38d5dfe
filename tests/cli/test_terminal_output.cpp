// What the runner prints to a terminal: ids, names, messages and handler output from a job file
// are shown with their control characters escaped, and the summary lines up by display width.

#include "cli_harness.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace cli_test;
using nlohmann::json;

namespace {

std::string write_job(const json& job) {
    const auto path = scratch_path("job.json");
    std::ofstream(path) << job.dump();
    return path.string();
}

json task(const std::string& id, const std::string& service, const std::string& command, json input = json::object()) {
    return {{"id", id}, {"service", service}, {"command", command}, {"input", std::move(input)}};
}

// True when @p text has no control character other than the line breaks between lines.
bool only_printable(const std::string& text) {
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte < 0x20 && c != '\n') || byte == 0x7F) return false;
    }
    // C1 controls in UTF-8: U+0080 to U+009F are C2 80 to C2 9F.
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
        if (static_cast<unsigned char>(text[i]) == 0xC2 && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
            static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
            return false;
        }
    }
    return true;
}

bool is_utf8(const std::string& text) {
    try {
        (void)json(text).dump();  // nlohmann's default error handler throws on bytes that are not UTF-8
        return true;
    } catch (const json::type_error&) {
        return false;
    }
}

std::string line_starting_with(const std::string& text, const std::string& start) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(start, 0) == 0) return line;
    }
    return {};
}

}  // namespace

TEST_CASE("the summary shows control characters from the job and its handlers escaped", "[cli][terminal]") {
    const std::string c1_csi = "\xc2\x9b";  // U+009B, the one-character form of ESC [
    const std::string job =
        write_job({{"name", "evil\x1b]0;pwned\x07"},
                   {"abortOnFailure", false},
                   {"tasks",
                    {task("red\x1b[31m", "core", "echo", {{"tab", "a\tb"}}), task("c1" + c1_csi + "2J", "core", "echo"),
                     task("broken", "core", "fail", {{"message", "line1\nline2\x1b[2J\r\n"}}),
                     task("printer", "shell", "run", {{"argv", {"printf", "a\\033[31mb\\177\\377\\376ok\\n"}}})}}});
    const auto run = run_cli({"run", job});
    CHECK(run.exit_code == 1);
    CHECK(only_printable(run.out));
    CHECK(is_utf8(run.out));
    CHECK(run.out.rfind("job evil\\x1b]0;pwned\\x07: failed in ", 0) == 0);
    CHECK(line_starting_with(run.out, "red\\x1b[31m  ").find("{\"tab\":\"a\\tb\"}") != std::string::npos);
    CHECK_FALSE(line_starting_with(run.out, "c1\\u009b2J  ").empty());
    // A failure message and a command's output: inner line breaks shown, the trailing ones dropped.
    CHECK(line_starting_with(run.out, "broken").ends_with("  line1\\nline2\\x1b[2J"));
    // Bytes that are not UTF-8 are shown as U+FFFD.
    CHECK(line_starting_with(run.out, "printer").ends_with("  a\\x1b[31mb\\x7f\xEF\xBF\xBD\xEF\xBF\xBDok"));
}

TEST_CASE("the progress line shows the job name escaped", "[cli][terminal]") {
    const std::string c1_csi = "\xc2\x9b";  // U+009B, the one-character form of ESC [
    const std::string job =
        write_job({{"name", "n\x1b[31m\n"}, {"tasks", {task("a", "core", "sleep", {{"ms", 300}})}}});
    const auto run = run_cli_on_terminal({"run", job});
    CHECK(run.exit_code == 0);
    CHECK(run.err.rfind("\r\033[2Kn\\x1b[31m\\n [0/0] running 0, failed 0, 0.0s", 0) == 0);
    CHECK(run.err.find("\x1b[31m") == std::string::npos);
    CHECK(run.err.find('\n') == std::string::npos);
}

TEST_CASE("validate prints the job name and the path escaped", "[cli][terminal]") {
    const auto path = scratch_path("odd\x1b[2Jname.json");
    std::ofstream(path) << json{{"name", "a\x1b[2J\nb"}, {"tasks", {task("t", "core", "echo")}}}.dump();
    const auto run = run_cli({"validate", path.string()});
    CHECK(run.exit_code == 0);
    std::string shown_path = path.string();
    shown_path.replace(shown_path.find('\x1b'), 1, "\\x1b");
    CHECK(run.out == shown_path + ": valid job \"a\\x1b[2J\\nb\" with 1 initial task\n");
}

TEST_CASE("error messages show what the job file holds escaped", "[cli][terminal]") {
    SECTION("validation problems") {
        const std::string job = write_job(
            {{"name", "dup"}, {"tasks", {task("x\x1b[31m\ny", "core", "echo"), task("x\x1b[31m\ny", "core", "echo")}}});
        const auto run = run_cli({"validate", job});
        CHECK(run.exit_code == 2);
        CHECK(run.err ==
              "jobgraph: " + job +
                  ": invalid job (1 problem):\n  - Duplicate task id: x\\x1b[31m\\ny (tasks[0] and tasks[1])\n");
    }
    SECTION("usage errors quoting what was typed") {
        const auto run = run_cli({"run", "job.json", "--fast\x1b[2J"});
        CHECK(run.exit_code == 2);
        CHECK(run.err.find("--fast\\x1b[2J") != std::string::npos);
        CHECK(only_printable(run.err));
    }
    SECTION("a store that has no such job") {
        const auto db = scratch_path("jobs.db").string();
        const std::string job = write_job({{"name", "one"}, {"tasks", {task("t", "core", "echo")}}});
        REQUIRE(run_cli({"run", job, "--store", db, "--quiet"}).exit_code == 0);
        const auto run = run_cli({"resume", db, "no\x1b[31mjob"});
        CHECK(run.exit_code == 2);
        CHECK(run.err == "jobgraph: " + db + ": no job \"no\\x1b[31mjob\" in this store\n");
    }
}

TEST_CASE("summary columns line up by display width: wide characters 2, combining marks 0", "[cli][terminal]") {
    const std::string wide = "\xe6\x95\xb0\xe6\x8d\xae\xe5\xa4\x84\xe7\x90\x86";  // 数据处理: 4 characters, 8 columns
    const std::string combining = "cafe\xcc\x81";                                 // e + U+0301: 4 columns
    const std::string precomposed = "\xc3\xa9";                                   // é: 1 column
    const std::string job = write_job({{"name", "widths"},
                                       {"tasks",
                                        {task(wide, "core", "echo"), task(combining, "core", "echo"),
                                         task(precomposed, "core", "echo"), task("plain", "core", "echo")}}});
    const auto run = run_cli({"run", job});
    REQUIRE(run.exit_code == 0);
    // The id column is 8 columns wide, the handler column 9; two spaces between columns.
    CHECK(line_starting_with(run.out, "TASK").rfind("TASK      HANDLER    STATUS   ", 0) == 0);
    CHECK(line_starting_with(run.out, wide).rfind(wide + "  core/echo  succeeded", 0) == 0);
    CHECK(line_starting_with(run.out, combining).rfind(combining + "      core/echo  succeeded", 0) == 0);
    CHECK(line_starting_with(run.out, precomposed).rfind(precomposed + "         core/echo  succeeded", 0) == 0);
    CHECK(line_starting_with(run.out, "plain").rfind("plain     core/echo  succeeded", 0) == 0);
}

TEST_CASE("a long result is cut between characters, to the column's width", "[cli][terminal]") {
    std::string text;
    for (int i = 0; i < 60; ++i) text += "\xe6\x95\xb0";  // 数, 2 columns each
    const std::string job = write_job({{"name", "long"}, {"tasks", {task("t", "core", "echo", {{"text", text}})}}});
    const auto run = run_cli({"run", job});
    REQUIRE(run.exit_code == 0);
    CHECK(is_utf8(run.out));
    // {"text":" is 9 columns, then 30 characters (60 columns) fit before the "..." in 72.
    std::string expected = "{\"text\":\"";
    for (int i = 0; i < 30; ++i) expected += "\xe6\x95\xb0";
    CHECK(line_starting_with(run.out, "t  ").ends_with("  " + expected + "..."));
}
