// A dependency pipeline with fan-out and fan-in, over a real text file.
//
// load reads the file; three analyses run in parallel on what it loaded (words, lines,
// letters); report waits for all three and combines their outputs.
//
//   ./pipeline [FILE]        (default: this program's own source)

#include <jobgraph/jobgraph.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

using nlohmann::json;

namespace {

std::string text_of(const jobgraph::TaskContext& ctx) {
    return ctx.output_of("load")->at("text").get<std::string>();
}

json count_words(jobgraph::TaskContext& ctx) {
    std::istringstream in(text_of(ctx));
    std::map<std::string, int> counts;
    std::size_t total = 0;
    for (std::string word; in >> word;) {
        std::string letters;
        for (const char c : word) {
            if (std::isalpha(static_cast<unsigned char>(c))) letters += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        if (letters.size() < 4) continue;  // skip "the", "a", "of" and punctuation
        ++counts[letters];
        ++total;
    }
    std::vector<std::pair<std::string, int>> ranked(counts.begin(), counts.end());
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    ranked.resize(std::min<std::size_t>(ranked.size(), 5));
    return json{{"words", total}, {"distinct", counts.size()}, {"top", ranked}};
}

json count_lines(jobgraph::TaskContext& ctx) {
    std::istringstream in(text_of(ctx));
    std::size_t lines = 0;
    std::size_t blank = 0;
    std::string longest;
    for (std::string line; std::getline(in, line); ++lines) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) ++blank;
        if (line.size() > longest.size()) longest = line;
    }
    return json{{"lines", lines}, {"blank", blank}, {"longest", longest.size()}};
}

json count_letters(jobgraph::TaskContext& ctx) {
    std::map<char, std::size_t> counts;
    for (const char c : text_of(ctx)) {
        if (std::isalpha(static_cast<unsigned char>(c))) ++counts[static_cast<char>(std::tolower(static_cast<unsigned char>(c)))];
    }
    const auto most = std::max_element(counts.begin(), counts.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
    return json{{"distinctLetters", counts.size()},
                {"mostCommon", most == counts.end() ? "" : std::string(1, most->first)}};
}

}  // namespace

int main(int argc, char** argv) {
    const std::string path = argc > 1 ? argv[1] : __FILE__;

    jobgraph::HandlerRegistry registry;
    registry.add("text", "load", [](jobgraph::TaskContext& ctx) {
        const auto file_path = ctx.input().at("path").get<std::string>();
        std::ifstream file(file_path, std::ios::binary);
        if (!file) throw std::runtime_error("cannot read " + file_path);
        std::ostringstream text;
        text << file.rdbuf();
        return json{{"text", text.str()}, {"bytes", text.str().size()}};
    });
    registry.add("text", "words", count_words);
    registry.add("text", "lines", count_lines);
    registry.add("text", "letters", count_letters);
    registry.add("text", "report", [](jobgraph::TaskContext& ctx) {
        // Fan-in: every analysis has succeeded, so each output is there.
        return json{{"bytes", ctx.output_of("load")->at("bytes")},
                    {"words", *ctx.output_of("words")},
                    {"lines", *ctx.output_of("lines")},
                    {"letters", *ctx.output_of("letters")}};
    });

    const auto task = [](std::string id, std::string command, std::vector<std::string> after, json input = json::object()) {
        return jobgraph::TaskSpec{.id = id, .service = "text", .command = std::move(command), .input = std::move(input),
                                  .depends_on = std::move(after)};
    };
    const jobgraph::JobSpec job{
        .name = "text-statistics",
        .limits = {},
        .tasks = {task("load", "load", {}, {{"path", path}}),
                  task("words", "words", {"load"}),      // fan-out: three analyses
                  task("lines", "lines", {"load"}),      // run side by side
                  task("letters", "letters", {"load"}),
                  task("report", "report", {"words", "lines", "letters"})},  // fan-in
    };

    const auto result = jobgraph::Orchestrator(registry).run(job);
    if (result.status != jobgraph::JobStatus::succeeded) {
        for (const auto& record : result.tasks) {
            if (record.status == jobgraph::TaskStatus::failed) fmt::print(stderr, "{}: {}\n", record.id, record.output.dump());
        }
        return 1;
    }
    const json& report = result.at("report").output;
    fmt::print("{}: {} bytes\n", path, report.at("bytes").get<std::size_t>());
    fmt::print("  lines: {} ({} blank), longest {} characters\n", report["lines"]["lines"].get<int>(),
               report["lines"]["blank"].get<int>(), report["lines"]["longest"].get<int>());
    fmt::print("  words of 4+ letters: {} ({} distinct)\n", report["words"]["words"].get<int>(),
               report["words"]["distinct"].get<int>());
    for (const auto& entry : report["words"]["top"]) {
        fmt::print("    {:<16} {}\n", entry[0].get<std::string>(), entry[1].get<int>());
    }
    fmt::print("  letters: {} distinct, most common '{}'\n", report["letters"]["distinctLetters"].get<int>(),
               report["letters"]["mostCommon"].get<std::string>());
    fmt::print("tasks by start time: {}\n", fmt::join([&] {
                   std::vector<std::string> ids;
                   for (const auto& record : result.tasks) ids.push_back(record.id);
                   return ids;
               }(), ", "));
    return 0;
}
