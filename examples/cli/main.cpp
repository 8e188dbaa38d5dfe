// jobgraph: runs a job written as JSON with the built-in services (docs/runner.md).
//
//   jobgraph run JOB.json [--workers N] [--json FILE|-] [--dot FILE|-] [--store DB] [--quiet]
//                         [--max-file-size BYTES]
//   jobgraph resume DB JOB_ID [--workers N] [--json FILE|-] [--dot FILE|-] [--quiet]
//   jobgraph approve DB JOB_ID [--workers N] [--json FILE|-] [--dot FILE|-] [--quiet]
//   jobgraph validate JOB.json [--max-file-size BYTES]
//   jobgraph services

#include <jobgraph/services.hpp>
#include "job_file.hpp"
#include "report.hpp"
#include "stored_jobs.hpp"
#include "terminal_text.hpp"

#include <jobgraph/jobgraph.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>

namespace {

using namespace jobgraph;
using namespace jobgraph::cli;

struct RunOptions {
    std::string job_path;
    std::uint64_t max_file_size = default_max_job_file_size;
    std::optional<std::string> store_path;
    OutputOptions output;
};

struct StoredJobOptions {
    std::string db;
    std::string job_id;
    OutputOptions output;
};

struct ValidateOptions {
    std::string job_path;
    std::uint64_t max_file_size = default_max_job_file_size;
};

int report_job_file_error(const JobFileError& error) {
    report_error(error.headline(), error.details());
    return exit_usage;
}

// Checked before anything runs: a job should not run only for its output to be refused.
std::optional<int> refuse_conflicting_outputs(const OutputOptions& options) {
    const auto conflict = conflicting_outputs(options);
    if (!conflict) return std::nullopt;
    report_error(*conflict);
    return exit_usage;
}

int run_job(const RunOptions& options, const HandlerRegistry& registry) {
    if (const auto refused = refuse_conflicting_outputs(options.output)) return *refused;
    const Orchestrator orchestrator(registry, OrchestratorOptions{.workers = options.output.workers});
    nlohmann::json job;
    try {
        job = load_job_file(options.job_path, orchestrator, options.max_file_size);
    } catch (const JobFileError& error) {
        return report_job_file_error(error);
    }
    if (options.store_path) return run_stored_job(job, *options.store_path, orchestrator, options.output);

    const auto progress = make_progress(options.output);
    const JobResult result = orchestrator.run(job, progress.get());
    return report_result(result, options.output);
}

int resume_job(const StoredJobOptions& options, bool approve_first, const HandlerRegistry& registry) {
    if (const auto refused = refuse_conflicting_outputs(options.output)) return *refused;
    const Orchestrator orchestrator(registry, OrchestratorOptions{.workers = options.output.workers});
    return resume_stored_job(options.db, options.job_id, approve_first, orchestrator, options.output);
}

int validate_job(const ValidateOptions& options, const HandlerRegistry& registry) {
    const Orchestrator orchestrator(registry, OrchestratorOptions{.workers = 1});
    try {
        const auto job = load_job_file(options.job_path, orchestrator, options.max_file_size);
        const std::size_t tasks = job.at("tasks").size();
        fmt::print("{}: valid job \"{}\" with {} initial task{}\n", terminal_safe(options.job_path),
                   terminal_safe(job.at("name").get_ref<const std::string&>()), tasks, tasks == 1 ? "" : "s");
        return exit_succeeded;
    } catch (const JobFileError& error) {
        return report_job_file_error(error);
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
    command->add_option("--dot", options.dot_path,
                        "Write the final task graph as Graphviz DOT to FILE, or to stdout with -");
    command->add_flag("--quiet,-q", options.quiet, "No progress line, no summary");
}

void add_max_file_size_flag(CLI::App* command, std::uint64_t& max_file_size) {
    command
        ->add_option("--max-file-size", max_file_size,
                     "Refuse a job file larger than this, in bytes or with a unit (kB, MiB, ...); default 256MiB")
        ->transform(CLI::AsSizeValue(true));
}

// CLI11's messages can quote what was typed; print them escaped like every other message.
int report_parse_error(const CLI::App& app, const CLI::ParseError& error) {
    std::ostringstream out;
    std::ostringstream err;
    const int code = app.exit(error, out, err);
    fmt::print(stdout, "{}", terminal_safe_lines(out.str()));
    fmt::print(stderr, "{}", terminal_safe_lines(err.str()));
    // CLI11 has its own exit codes; any bad usage is 2 here (and --help 0).
    return code == 0 ? exit_succeeded : exit_usage;
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
    add_max_file_size_flag(run, run_options.max_file_size);
    run->add_option("--store", run_options.store_path,
                    "Keep the job in a SQLite file; its job id is printed on stderr for resume and approve");

    StoredJobOptions resume_options;
    auto* resume = add_stored_job_command(
        app, "resume", "Run a job kept in a store from where it stopped (a finished job: its stored result)",
        resume_options);
    StoredJobOptions approve_options;
    auto* approve =
        add_stored_job_command(app, "approve", "Approve a stored job's planned tasks, then resume it", approve_options);

    ValidateOptions validate_options;
    auto* validate = app.add_subcommand("validate", "Check a job file as run would; runs nothing");
    validate->add_option("job", validate_options.job_path, "The job file (JSON)")->required();
    add_max_file_size_flag(validate, validate_options.max_file_size);

    auto* services = app.add_subcommand("services", "List the built-in services");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return report_parse_error(app, error);
    }

    try {
        if (*run) return run_job(run_options, registry);
        if (*resume) return resume_job(resume_options, false, registry);
        if (*approve) return resume_job(approve_options, true, registry);
        if (*validate) return validate_job(validate_options, registry);
        if (*services) return list_services(registry);
    } catch (const std::exception& error) {
        report_error(error.what());
        return exit_failed;
    }
    return exit_usage;
}
