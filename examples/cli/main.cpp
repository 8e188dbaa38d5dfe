// jobgraph: runs a job written as JSON with the built-in services (docs/runner.md).
//
//   jobgraph run JOB.json [--workers N] [--json FILE|-] [--dot FILE|-] [--store STORE] [--quiet]
//                         [--max-file-size BYTES]
//   jobgraph submit JOB.json --store STORE [--max-file-size BYTES]
//   jobgraph status --store STORE JOB_ID [--wait [--timeout S]] [--json FILE|-]
//   jobgraph resume STORE JOB_ID [--workers N] [--json FILE|-] [--dot FILE|-] [--quiet]
//   jobgraph approve STORE JOB_ID [TASK_ID...] [--reject TASK_ID... [--reason TEXT]]
//                    [--workers N] [--json FILE|-] [--dot FILE|-] [--quiet]
//   jobgraph list STORE [--json]
//   jobgraph show STORE JOB_ID [--json FILE|-] [--dot FILE|-]
//   jobgraph cancel STORE JOB_ID [--reason TEXT]
//   jobgraph validate JOB.json [--max-file-size BYTES]
//   jobgraph services
//
// STORE is a SQLite file, or a PostgreSQL database: a postgres:// or postgresql:// URL, or a
// libpq keyword string such as "host=/run/postgresql dbname=jobs" (store_location.hpp).

#include <jobgraph/services.hpp>
#include "job_file.hpp"
#include "job_status.hpp"
#include "report.hpp"
#include "signal_watcher.hpp"
#include "store_location.hpp"
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
#include <vector>

namespace {

using namespace jobgraph;
using namespace jobgraph::cli;

struct RunOptions {
    std::string job_path;
    std::uint64_t max_file_size = default_max_job_file_size;
    std::optional<std::string> store;
    OutputOptions output;
};

struct SubmitOptions {
    std::string job_path;
    std::uint64_t max_file_size = default_max_job_file_size;
    std::string store;
};

struct StatusCommandOptions {
    std::string store;
    std::string job_id;
    StatusOptions status;
};

struct StoredJobOptions {
    std::string store;
    std::string job_id;
    OutputOptions output;
};

struct ApproveOptions {
    StoredJobOptions job;
    std::vector<std::string> approve;
    std::vector<std::string> reject;
    std::string reason;
};

struct ListOptions {
    std::string store;
    bool json = false;
};

struct CancelOptions {
    std::string store;
    std::string job_id;
    std::string reason = "cancelled from the command line";
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
    RunControl control;
    interrupt_on_signals(control);  // before the orchestrator starts any thread
    const Orchestrator orchestrator(registry, OrchestratorOptions{.workers = options.output.workers});
    nlohmann::json job;
    try {
        job = load_job_file(options.job_path, orchestrator, options.max_file_size);
    } catch (const JobFileError& error) {
        return report_job_file_error(error);
    }
    if (options.store) {
        return run_stored_job(job, StoreLocation(*options.store), orchestrator, options.output, control);
    }

    JobResult result;
    {
        const auto progress = make_progress(options.output);
        result = orchestrator.run(job, progress.get(), &control);
    }
    return report_result(result, options.output);
}

int resume_job(const StoredJobOptions& options, const ApprovalDecision* approval, const HandlerRegistry& registry) {
    if (const auto refused = refuse_conflicting_outputs(options.output)) return *refused;
    RunControl control;
    interrupt_on_signals(control);
    const Orchestrator orchestrator(registry, OrchestratorOptions{.workers = options.output.workers});
    return resume_stored_job(StoreLocation(options.store), options.job_id, approval, orchestrator, options.output,
                             control);
}

int submit_job(const SubmitOptions& options, const HandlerRegistry& registry) {
    const Orchestrator orchestrator(registry, OrchestratorOptions{.workers = 1});
    try {
        const auto job = load_job_file(options.job_path, orchestrator, options.max_file_size);
        return submit_stored_job(job, StoreLocation(options.store));
    } catch (const JobFileError& error) {
        return report_job_file_error(error);
    }
}

int approve_job(const ApproveOptions& options, const HandlerRegistry& registry) {
    const ApprovalDecision decision{options.approve, options.reject, options.reason};
    return resume_job(options.job, &decision, registry);
}

int cancel_job(const CancelOptions& options, const HandlerRegistry& registry) {
    const Orchestrator orchestrator(registry, OrchestratorOptions{.workers = 1});
    return cancel_stored_job(StoreLocation(options.store), options.job_id, options.reason, orchestrator);
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

constexpr const char* store_description =
    "The store: a SQLite file, or a PostgreSQL database as a postgres:// URL or a libpq keyword string";
constexpr const char* job_id_description = "The job id printed by run --store or submit (see also: list)";

// STORE and JOB_ID, the first two arguments of every command on a stored job.
void add_job_arguments(CLI::App* command, std::string& store, std::string& job_id) {
    command->add_option("store", store, store_description)->required();
    command->add_option("job_id", job_id, job_id_description)->required();
}

CLI::App* add_stored_job_command(CLI::App& app, const std::string& name, const std::string& description,
                                 StoredJobOptions& options) {
    auto* command = app.add_subcommand(name, description);
    add_job_arguments(command, options.store, options.job_id);
    add_output_flags(command, options.output);
    return command;
}

}  // namespace

int main(int argc, char** argv) {
    HandlerRegistry registry;
    services::register_builtin(registry);

    CLI::App app{"jobgraph: run a job of tasks written as JSON, with the built-in services", "jobgraph"};
    app.require_subcommand(1);
    app.footer(
        "Exit status: 0 the job succeeded, 1 it failed, 2 bad usage or nothing could run (an invalid job file, an "
        "unknown store or job, a job another runner holds), 3 awaiting approval, 4 cancelled, 130 interrupted by "
        "SIGINT or SIGTERM (a stored job can then be resumed; a second signal ends the runner at once); status "
        "only: 5 the job has not ended.\n"
        "STORE is a SQLite file, or a PostgreSQL database: a postgres:// or postgresql:// URL, or a libpq keyword "
        "string such as \"host=/run/postgresql dbname=jobs\".");

    RunOptions run_options;
    auto* run = app.add_subcommand("run", "Run a job file and print a summary");
    run->add_option("job", run_options.job_path, "The job file (JSON)")->required();
    add_output_flags(run, run_options.output);
    add_max_file_size_flag(run, run_options.max_file_size);
    run->add_option("--store", run_options.store,
                    "Keep the job in a store (a SQLite file, or a PostgreSQL URL or keyword string); its job id is "
                    "printed on stderr for resume and approve");

    SubmitOptions submit_options;
    auto* submit =
        app.add_subcommand("submit", "Check a job file as run would and add the job to a store; runs nothing");
    submit->add_option("job", submit_options.job_path, "The job file (JSON)")->required();
    submit->add_option("--store", submit_options.store, store_description)->required();
    add_max_file_size_flag(submit, submit_options.max_file_size);
    submit->footer("Prints the new job's id alone on stdout. Exit status 0, or 2 for an invalid job file or store.");

    StatusCommandOptions status_options;
    auto* status = app.add_subcommand("status", "Show how a stored job stands, or wait for it to end");
    status->add_option("--store", status_options.store, store_description)->required();
    status->add_option("job_id", status_options.job_id, job_id_description)->required();
    auto* wait_flag = status->add_flag("--wait", status_options.status.wait,
                                       "Wait until the job has ended (polls the store every 200 ms, rising to 1 s)");
    status
        ->add_option("--timeout", status_options.status.timeout_seconds, "With --wait: give up after this many seconds")
        ->type_name("SECONDS")
        ->check(CLI::Range(0.0, 31536000.0).description(""))
        ->needs(wait_flag);
    status->add_option("--json", status_options.status.output.json_path,
                       "Write the job as result JSON to FILE, or to stdout with -");
    status->footer(
        "Exit status: as run gives it for a job that has ended (0 succeeded, 1 failed, 3 awaiting approval, "
        "4 cancelled, 130 interrupted); 5 the job has not ended (yet, or within --timeout); 2 an unknown store or "
        "job.");

    StoredJobOptions resume_options;
    auto* resume = add_stored_job_command(
        app, "resume",
        "Run a job kept in a store from where it stopped (an ended job: its stored result; an interrupted one runs on)",
        resume_options);
    ApproveOptions approve_options;
    auto* approve = add_stored_job_command(
        app, "approve",
        "Approve a stored job's planned tasks (all, or those named and what waits only on them), reject some, "
        "then resume it",
        approve_options.job);
    approve->add_option("task_ids", approve_options.approve, "Planned tasks to approve (default: every one)");
    approve
        ->add_option("--reject", approve_options.reject,
                     "Planned tasks to reject: they end aborted, and so does whatever waits on them")
        ->expected(1, -1);
    approve->add_option("--reason", approve_options.reason, "Why they are rejected (\"Rejected: <reason>\")")
        ->needs("--reject");

    ListOptions list_options;
    auto* list = app.add_subcommand("list", "List the jobs of a store, newest first");
    list->add_option("store", list_options.store, store_description)->required();
    list->add_flag("--json", list_options.json, "Print a JSON array instead of a table");

    StoredJobOptions show_options;
    auto* show = app.add_subcommand("show", "Show a stored job as it stands, running nothing (also while it runs)");
    add_job_arguments(show, show_options.store, show_options.job_id);
    show->add_option("--json", show_options.output.json_path,
                     "Write the job as result JSON to FILE, or to stdout with -");
    show->add_option("--dot", show_options.output.dot_path,
                     "Write the task graph as Graphviz DOT to FILE, or to stdout with -");

    CancelOptions cancel_options;
    auto* cancel = app.add_subcommand(
        "cancel",
        "Cancel a stored job: the run holding it stops within a second; a job nobody runs is cancelled at once");
    add_job_arguments(cancel, cancel_options.store, cancel_options.job_id);
    cancel->add_option("--reason", cancel_options.reason, "Written into \"Job cancelled: <reason>\"")
        ->capture_default_str();

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
        if (*submit) return submit_job(submit_options, registry);
        if (*status) {
            return report_job_status(StoreLocation(status_options.store), status_options.job_id, status_options.status);
        }
        if (*resume) return resume_job(resume_options, nullptr, registry);
        if (*approve) return approve_job(approve_options, registry);
        if (*list) return list_stored_jobs(StoreLocation(list_options.store), list_options.json);
        if (*show) {
            if (const auto refused = refuse_conflicting_outputs(show_options.output)) return *refused;
            return show_stored_job(StoreLocation(show_options.store), show_options.job_id, show_options.output);
        }
        if (*cancel) return cancel_job(cancel_options, registry);
        if (*validate) return validate_job(validate_options, registry);
        if (*services) return list_services(registry);
    } catch (const std::exception& error) {
        report_error(error.what());
        return exit_failed;
    }
    return exit_usage;
}
