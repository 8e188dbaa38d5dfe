// jobgraph: runs a job written as JSON with the built-in services (see shared/spec/cli.md).
//
//   jobgraph run JOB.json [--workers N] [--json FILE|-] [--dot FILE] [--store DB] [--quiet]
//   jobgraph validate JOB.json
//   jobgraph services

#include "builtin_services.hpp"
#include "job_file.hpp"
#include "progress.hpp"
#include "summary.hpp"

#include <jobgraph/jobgraph.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include <unistd.h>

namespace {

using namespace jobgraph;

// Exit statuses of cli.md.
constexpr int exit_succeeded = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;
constexpr int exit_awaiting_approval = 3;

struct RunOptions {
    std::string job_path;
    std::size_t workers = 0;
    std::optional<std::string> json_path;
    std::optional<std::string> dot_path;
    std::optional<std::string> store_path;
    bool quiet = false;
};

void report_error(std::string_view message) { fmt::print(stderr, "jobgraph: {}\n", message); }

int exit_status_of(JobStatus status) {
    switch (status) {
        case JobStatus::succeeded: return exit_succeeded;
        case JobStatus::awaiting_approval: return exit_awaiting_approval;
        case JobStatus::failed:
        case JobStatus::running: break;
    }
    return exit_failed;
}

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

int run_job(const RunOptions& options, const HandlerRegistry& registry) {
    if (options.store_path) {
        // The library has no store yet (behaviour.md section 10 is a separate issue).
        report_error("--store: persistence is not available in this build");
        return exit_usage;
    }
    const Orchestrator orchestrator(registry, OrchestratorOptions{.workers = options.workers});
    nlohmann::json job;
    try {
        job = cli::load_job_file(options.job_path, orchestrator);
    } catch (const cli::JobFileError& error) {
        report_error(error.what());
        return exit_usage;
    }

    // With --json -, stdout carries the result alone; everything else goes to stderr.
    const bool json_on_stdout = options.json_path == "-";
    std::FILE* report_stream = json_on_stdout ? stderr : stdout;
    std::unique_ptr<cli::ProgressLine> progress;
    if (!options.quiet && ::isatty(STDERR_FILENO)) progress = std::make_unique<cli::ProgressLine>(stderr);

    const JobResult result = orchestrator.run(job, progress.get());
    progress.reset();

    if (!options.quiet) fmt::print(report_stream, "{}", cli::format_summary(result));
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

int validate_job(const std::string& path, const HandlerRegistry& registry) {
    const Orchestrator orchestrator(registry, OrchestratorOptions{.workers = 1});
    try {
        const auto job = cli::load_job_file(path, orchestrator);
        fmt::print("{}: valid job \"{}\" with {} initial task{}\n", path, job.at("name").get<std::string>(),
                   job.at("tasks").size(), job.at("tasks").size() == 1 ? "" : "s");
        return exit_succeeded;
    } catch (const cli::JobFileError& error) {
        report_error(error.what());
        return exit_usage;
    }
}

int list_services(const HandlerRegistry& registry) {
    const auto entries = registry.entries();
    std::size_t width = 7;
    for (const auto* entry : entries) width = std::max(width, entry->service.size() + 1 + entry->command.size());
    fmt::print("{:<{}}  {:<11}  {}\n", "SERVICE", width, "PLAN MODE", "DESCRIPTION");
    for (const auto* entry : entries) {
        fmt::print("{:<{}}  {:<11}  {}\n", entry->service + "/" + entry->command, width,
                   entry->options.side_effect_free ? "allowed" : "not allowed", entry->options.description);
    }
    return exit_succeeded;
}

}  // namespace

int main(int argc, char** argv) {
    HandlerRegistry registry;
    cli::register_builtin_services(registry);

    CLI::App app{"jobgraph: run a job of tasks written as JSON, with the built-in services", "jobgraph"};
    app.require_subcommand(1);

    RunOptions run_options;
    auto* run = app.add_subcommand("run", "Run a job file and print a summary");
    run->add_option("job", run_options.job_path, "The job file (JSON)")->required();
    run->add_option("--workers", run_options.workers, "Worker threads (default: hardware concurrency)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1024}));
    run->add_option("--json", run_options.json_path, "Write the job result as JSON to FILE, or to stdout with -");
    run->add_option("--dot", run_options.dot_path, "Write the final task graph as Graphviz DOT to FILE");
    run->add_option("--store", run_options.store_path, "Keep the job in a SQLite file (not available in this build)");
    run->add_flag("--quiet,-q", run_options.quiet, "No progress line, no summary");

    std::string validate_path;
    auto* validate = app.add_subcommand("validate", "Check a job file as run would; runs nothing");
    validate->add_option("job", validate_path, "The job file (JSON)")->required();

    auto* services = app.add_subcommand("services", "List the built-in services");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        // CLI11 has its own exit codes; cli.md wants 2 for any bad usage (and 0 for --help).
        return app.exit(error) == 0 ? exit_succeeded : exit_usage;
    }

    try {
        if (*run) return run_job(run_options, registry);
        if (*validate) return validate_job(validate_path, registry);
        if (*services) return list_services(registry);
    } catch (const std::exception& error) {
        report_error(error.what());
        return exit_failed;
    }
    return exit_usage;
}
