#include "report.hpp"

#include "progress.hpp"
#include "summary.hpp"

#include <jobgraph/dot.hpp>

#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include <unistd.h>

namespace jobgraph::cli {
namespace {

bool write_text_file(const std::string& path, const std::string& text, std::string_view what) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << text;
    file.close();
    if (!file) {
        report_error(fmt::format("{}: cannot write the {}", path, what));
        return false;
    }
    return true;
}

}  // namespace

void report_error(std::string_view message) {
    fmt::print(stderr, "jobgraph: {}\n", message);
}

int exit_status_of(JobStatus status) {
    switch (status) {
        case JobStatus::succeeded:
            return exit_succeeded;
        case JobStatus::awaiting_approval:
            return exit_awaiting_approval;
        case JobStatus::failed:
        case JobStatus::running:
            break;
    }
    return exit_failed;
}

std::unique_ptr<JobObserver> make_progress(const OutputOptions& options) {
    if (options.quiet || !::isatty(STDERR_FILENO)) return nullptr;
    return std::make_unique<ProgressLine>(stderr);
}

int report_result(const JobResult& result, const OutputOptions& options) {
    // With --json -, stdout carries the result alone; everything else goes to stderr.
    const bool json_on_stdout = options.json_path == "-";
    if (!options.quiet) fmt::print(json_on_stdout ? stderr : stdout, "{}", format_summary(result));
    int status = exit_status_of(result.status);
    if (options.json_path) {
        const std::string text = nlohmann::json(result).dump(2) + "\n";
        if (json_on_stdout) {
            std::cout << text << std::flush;
        } else if (!write_text_file(*options.json_path, text, "result JSON")) {
            status = exit_usage;
        }
    }
    if (options.dot_path && !write_text_file(*options.dot_path, to_dot(result), "DOT graph")) status = exit_usage;
    return status;
}

}  // namespace jobgraph::cli
