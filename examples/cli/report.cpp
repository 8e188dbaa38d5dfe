#include "report.hpp"

#include "progress.hpp"
#include "summary.hpp"
#include "terminal_text.hpp"

#include <jobgraph/dot.hpp>

#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include <unistd.h>

namespace jobgraph::cli {
namespace {

constexpr std::string_view standard_output = "-";

// Writes @p text to @p path, or to stdout for "-"; false (after saying why) if it could not.
bool write_output(const std::string& path, const std::string& text, std::string_view what) {
    if (path == standard_output) {
        std::cout << text << std::flush;
        if (std::cout) return true;
        report_error(fmt::format("cannot write the {} to stdout", what));
        return false;
    }
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << text;
    file.close();
    if (!file) {
        report_error(fmt::format("{}: cannot write the {}", path, what));
        return false;
    }
    return true;
}

// Said on stderr even with --quiet: without it a quiet run that failed for a reason outside
// any task would leave nothing but the exit status.
void report_job_error(const std::string& error, std::optional<std::string_view> store_file) {
    const bool names_store = !store_file || error.find(*store_file) != std::string::npos;
    if (error.starts_with("Store failed") && !names_store) {
        report_error(fmt::format("{} (job store {})", error, *store_file));
    } else {
        report_error(error);
    }
}

}  // namespace

void report_error(std::string_view message) {
    fmt::print(stderr, "jobgraph: {}\n", terminal_safe(message));
}

void report_error(std::string_view headline, const std::vector<std::string>& details) {
    std::string text = fmt::format("jobgraph: {}\n", terminal_safe(headline));
    for (const auto& detail : details) text += fmt::format("  - {}\n", terminal_safe(detail));
    fmt::print(stderr, "{}", text);
}

int exit_status_of(JobStatus status) {
    switch (status) {
        case JobStatus::succeeded:
            return exit_succeeded;
        case JobStatus::awaiting_approval:
            return exit_awaiting_approval;
        case JobStatus::cancelled:
            return exit_cancelled;
        case JobStatus::interrupted:
            return exit_interrupted;
        case JobStatus::failed:
        case JobStatus::running:
            break;
    }
    return exit_failed;
}

std::optional<std::string> conflicting_outputs(const OutputOptions& options) {
    if (options.json_path == standard_output && options.dot_path == standard_output) {
        return "--json - and --dot - cannot both write to stdout; write one of them to a file";
    }
    return std::nullopt;
}

std::unique_ptr<JobObserver> make_progress(const OutputOptions& options) {
    if (options.quiet || !::isatty(STDERR_FILENO)) return nullptr;
    return std::make_unique<ProgressLine>(stderr);
}

bool report_outputs(const JobResult& result, const OutputOptions& options, std::optional<std::string_view> store_file) {
    // When stdout carries the result JSON or the DOT graph, it carries that alone.
    const bool stdout_taken = options.json_path == standard_output || options.dot_path == standard_output;
    if (options.quiet) {
        if (result.error_message) report_job_error(*result.error_message, store_file);
    } else {
        fmt::print(stdout_taken ? stderr : stdout, "{}", format_summary(result));
    }
    bool written = true;
    if (options.json_path) {
        // Outputs are untrusted: bytes that are not UTF-8 become U+FFFD rather than an exception.
        const std::string text = nlohmann::json(result).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
        written = write_output(*options.json_path, text + "\n", "result JSON") && written;
    }
    if (options.dot_path) written = write_output(*options.dot_path, to_dot(result), "DOT graph") && written;
    return written;
}

int report_result(const JobResult& result, const OutputOptions& options, std::optional<std::string_view> store_file) {
    const bool written = report_outputs(result, options, store_file);
    const int status = exit_status_of(result.status);
    return !written && status == exit_succeeded ? exit_usage : status;
}

}  // namespace jobgraph::cli
