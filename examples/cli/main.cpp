// jobgraph: runs a job written as JSON with the built-in services (see shared/spec/cli.md).
//
//   jobgraph run JOB.json [--workers N] [--json FILE|-] [--dot FILE] [--store DB] [--quiet]
//   jobgraph resume DB JOB_ID [--workers N] [--json FILE|-] [--dot FILE] [--quiet]
//   jobgraph approve DB JOB_ID [--workers N] [--json FILE|-] [--dot FILE] [--quiet]
//   jobgraph validate JOB.json
//   jobgraph services
//
// resume and approve are this runner's extension; cli.md does not cover them.

#include <jobgraph/services.hpp>
#include "job_file.hpp"
#include "report.hpp"
#include "stored_jobs.hpp"

#include <jobgraph/jobgraph.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <optional>
#include <string>

namespace {

using namespace jobgraph;
using namespace jobgraph::cli;

struct RunOptions {
    std::string job_path;
    std::optional<std::string> store_path;
    OutputOptions output;
};

struct StoredJobOptions {
    std::string db;
    std::string job_id;
    OutputOptions output;
};

int run_job(const RunOptions& options, const HandlerRegistry& registry) {
    const Orchestrator orchestrator(registry, OrchestratorOptions{.workers = options.output.workers});
    nlohmann::json job;
    try {
        job = load_job_file(options.job_path, orchestrator);
    } catch (const JobFileError& error) {
        report_error(error.what());
        return exit_usage;
    }
    if (options.store_path) return run_stored_job(job, *options.store_path, orchestrator, options.output);

    const auto progress = make_progress(options.output);
    const JobResult result = orchestrator.run(job, progress.get());
    return report_result(result, options.output);
}

int resume_job(const StoredJobOptions& options, bool approve_first, const HandlerRegistry& registry) {
    const Orchestrator orchestrator(registry, OrchestratorOptions{.workers = options.output.workers});
    return resume_stored_job(options.db, options.job_id, approve_first, orchestrator, options.output);
}

int validate_job(const std::string& path, const HandlerRegistry& registry) {
    const Orchestrator orchestrator(registry, OrchestratorOptions{.workers = 1});
    try {
        const auto job = load_job_file(path, orchestrator);
        fmt::print("{}: valid job \"{}\" with {} initial task{}\n", path, job.at("name").get<std::string>(),
                   job.at("tasks").size(), job.at("tasks").size() == 1 ? "" : "s");
        return exit_succeeded;
    } catch (const JobFileError& error) {
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

// --workers, --json, --dot and --quiet, shared by run, resume and approve.
void add_output_flags(CLI::App* command, OutputOptions& options) {
    command->add_option("--workers", options.workers, "Worker threads (default: hardware concurrency)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1024}));
    command->add_option("--json", options.json_path, "Write the job result as JSON to FILE, or to stdout with -");
    command->add_option("--dot", options.dot_path, "Write the final task graph as Graphviz DOT to FILE");
    command->add_flag("--quiet,-q", options.quiet, "No progress line, no summary");
}

CLI::App* add_stored_job_command(CLI::App& app, const std::string& name, const std::string& description,
                                 StoredJobOptions& options) {
    auto* command = app.add_subcommand(name, description);
    command->add_option("db", options.db, "The SQLite file the job is kept in")->required();
    command->add_option("job_id", options.job_id, "The job id printed by run --store")->required();
    add_output_flags(command, options.output);
    return command;
}

}  // namespace

int main(int argc, char** argv) {
    HandlerRegistry registry;
    services::register_builtin(registry);

    CLI::App app{"jobgraph: run a job of tasks written as JSON, with the built-in services", "jobgraph"};
    app.require_subcommand(1);

    RunOptions run_options;
    auto* run = app.add_subcommand("run", "Run a job file and print a summary");
    run->add_option("job", run_options.job_path, "The job file (JSON)")->required();
    add_output_flags(run, run_options.output);
    run->add_option("--store", run_options.store_path,
                    "Keep the job in a SQLite file; its job id is printed on stderr for resume and approve");

    StoredJobOptions resume_options;
    auto* resume = add_stored_job_command(
        app, "resume", "Run a job kept in a store from where it stopped (a finished job: its stored result)",
        resume_options);
    StoredJobOptions approve_options;
    auto* approve =
        add_stored_job_command(app, "approve", "Approve a stored job's planned tasks, then resume it", approve_options);

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
        if (*resume) return resume_job(resume_options, false, registry);
        if (*approve) return resume_job(approve_options, true, registry);
        if (*validate) return validate_job(validate_path, registry);
        if (*services) return list_services(registry);
    } catch (const std::exception& error) {
        report_error(error.what());
        return exit_failed;
    }
    return exit_usage;
}
