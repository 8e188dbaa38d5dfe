// Failure handling: what happens to the rest of a job when one task fails.
//
// A nightly backup copies three folders, then verifies the copies and prunes old backups.
// The photos folder is missing, so its copy fails. The same job runs twice:
//   abortOnFailure = true   the first failure stops the job: nothing new starts;
//   abortOnFailure = false  independent work goes on; only what depends on the failure is aborted.
//
//   ./failure_handling

#include <jobgraph/jobgraph.hpp>

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Counts the files a copy would take; a missing folder fails the task.
json plan_copy(jobgraph::TaskContext& ctx) {
    const fs::path folder = ctx.input().at("folder").get<std::string>();
    if (!fs::is_directory(folder)) throw std::runtime_error(fmt::format("source folder {} does not exist", folder.string()));
    std::size_t files = 0;
    std::error_code error;
    for (auto it = fs::recursive_directory_iterator(folder, fs::directory_options::skip_permission_denied, error);
         it != fs::recursive_directory_iterator() && files < 10000; it.increment(error)) {
        ctx.throw_if_stop_requested();  // a stopped job should not wait for a long walk
        if (error) break;
        if (it->is_regular_file(error)) ++files;
    }
    return json{{"folder", folder.string()}, {"files", files}};
}

json prune_old_backups(jobgraph::TaskContext& ctx) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // stands in for a slow remote listing
    ctx.throw_if_stop_requested();
    return json{{"pruned", 2}};
}

jobgraph::JobSpec nightly_backup(bool abort_on_failure) {
    const auto copy = [](std::string id, std::string folder) {
        return jobgraph::TaskSpec{.id = std::move(id), .service = "backup", .command = "copy", .input = {{"folder", std::move(folder)}}};
    };
    return jobgraph::JobSpec{
        .name = fmt::format("nightly-backup (abortOnFailure={})", abort_on_failure),
        .limits = {},
        .abort_on_failure = abort_on_failure,
        .tasks = {copy("copy-photos", "/no/such/photos"),
                  copy("copy-config", "/etc/ssl"),
                  copy("copy-docs", "/usr/share/common-licenses"),
                  {.id = "verify", .service = "backup", .command = "verify", .depends_on = {"copy-photos", "copy-config"}},
                  {.id = "prune", .service = "backup", .command = "prune"}},
    };
}

void print_outcome(const jobgraph::JobResult& result) {
    fmt::print("{}: {}\n", result.name, jobgraph::to_string(result.status));
    for (const auto& task : result.tasks) {
        const std::string detail = task.output.is_object() && task.output.contains("error")
                                       ? task.output["error"].get<std::string>()
                                       : task.output.dump();
        fmt::print("  {:<12} {:<10} {}\n", task.id, jobgraph::to_string(task.status), detail);
    }
    fmt::print("  -> {} succeeded, {} failed, {} aborted\n\n", result.stats.succeeded, result.stats.failed,
               result.stats.aborted);
}

}  // namespace

int main() {
    jobgraph::HandlerRegistry registry;
    registry.add("backup", "copy", plan_copy);
    registry.add("backup", "verify", [](jobgraph::TaskContext&) { return json{{"verified", true}}; });
    registry.add("backup", "prune", prune_old_backups);

    // One worker makes the order of events easy to follow: tasks start in list order.
    const jobgraph::Orchestrator orchestrator(registry, {.workers = 1});
    print_outcome(orchestrator.run(nightly_backup(true)));
    print_outcome(orchestrator.run(nightly_backup(false)));
    return 0;
}
