// A directory walker on any folder: sizes, digests and duplicate files, found by a job that
// grows as it discovers the tree.
//
// "scan" lists the folder and spawns a child per subdirectory (which does the same) and a
// hashing task per file. "report" depends on "scan", so it waits for everything scan spawned,
// at any depth, then walks the outputs and prints totals, the largest files and duplicates.
//
// The job's limits are visible: a directory at maxDepth cannot spawn, so it lists its entries
// without descending; and the walkers share a budget of maxTasks, so they skip what would not
// fit rather than have their batch refused. With --strict-limits they spawn regardless and
// the library's own checks refuse the batch: that directory task fails with the library's
// message, and the report, which depends on the whole scan, is aborted.
//
//   ./dirscan DIR [--max-depth N] [--max-tasks N] [--workers N] [--strict-limits]
//
// The digest is FNV-1a 64: fast and good at spotting identical files, but not cryptographic.

#include <jobgraph/jobgraph.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// FNV-1a, 64 bits: one multiply and one xor per byte.
class Fnv1a64 {
public:
    void update(const char* data, std::size_t size) {
        for (std::size_t i = 0; i < size; ++i) {
            hash_ ^= static_cast<unsigned char>(data[i]);
            hash_ *= 0x100000001b3ULL;
        }
    }
    std::string hex() const { return fmt::format("{:016x}", hash_); }

private:
    std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

json hash_file(jobgraph::TaskContext& ctx) {
    const auto path = ctx.input().at("path").get<std::string>();
    std::ifstream file(path, std::ios::binary);
    // An unreadable file is a finding, not a failure: the rest of the report still matters.
    if (!file) return json{{"path", path}, {"unreadable", true}};
    Fnv1a64 digest;
    std::uint64_t bytes = 0;
    std::vector<char> buffer(1 << 16);
    while (file.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || file.gcount() > 0) {
        ctx.throw_if_stop_requested();  // large files: let a stopped job end promptly
        digest.update(buffer.data(), static_cast<std::size_t>(file.gcount()));
        bytes += static_cast<std::uint64_t>(file.gcount());
    }
    return json{{"path", path}, {"bytes", bytes}, {"fnv1a64", digest.hex()}};
}

/// Settings the directory walkers share.
struct Walk {
    bool strict_limits = false;
    std::atomic<std::int64_t> task_budget{0};  // tasks the walkers may still spawn

    // Takes up to @p wanted tasks from the budget, but no more than @p share of what is left
    // (at least one), so that a wide directory leaves room for what its subdirectories find.
    std::int64_t reserve(std::int64_t wanted, double share = 1.0) {
        if (strict_limits) return wanted;
        std::int64_t left = task_budget.load();
        std::int64_t granted = 0;
        do {
            const auto allowed = left > 0 ? std::max<std::int64_t>(1, static_cast<std::int64_t>(left * share)) : 0;
            granted = std::min(wanted, allowed);
        } while (!task_budget.compare_exchange_weak(left, left - granted));
        return granted;
    }
};

json list_directory(jobgraph::TaskContext& ctx, Walk& walk) {
    const fs::path directory = ctx.input().at("path").get<std::string>();
    std::vector<fs::directory_entry> subdirs;
    std::vector<fs::directory_entry> files;
    std::size_t skipped_other = 0;  // symlinks, sockets, devices: never followed or read
    std::error_code error;
    for (fs::directory_iterator it(directory, fs::directory_options::skip_permission_denied, error), end;
         !error && it != end; it.increment(error)) {
        std::error_code status_error;
        if (it->is_symlink(status_error)) {
            ++skipped_other;
        } else if (it->is_directory(status_error)) {
            subdirs.push_back(*it);
        } else if (it->is_regular_file(status_error)) {
            files.push_back(*it);
        } else {
            ++skipped_other;
        }
    }
    const auto by_name = [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); };
    std::sort(subdirs.begin(), subdirs.end(), by_name);
    std::sort(files.begin(), files.end(), by_name);

    // At maxDepth a task may not spawn: list without descending.
    const bool may_spawn = walk.strict_limits || ctx.depth() < ctx.limits().max_depth;
    const auto file_count = static_cast<std::int64_t>(files.size());
    const auto subdir_count = static_cast<std::int64_t>(subdirs.size());
    // Files first: their digests are what the report is about.
    const std::int64_t files_granted = may_spawn ? walk.reserve(file_count) : 0;
    const std::int64_t subdirs_granted = may_spawn ? walk.reserve(subdir_count, 0.5) : 0;

    std::size_t spawned = 0;
    const auto spawn = [&](std::string command, const fs::path& path) -> json {
        jobgraph::TaskSpec child{.service = "fs", .command = std::move(command), .input = {{"path", path.string()}}};
        // The id the library will give the child, so the report can find its output.
        std::string id = jobgraph::child_task_id(child, ctx.id(), spawned++);
        ctx.spawn(std::move(child));
        return id;
    };
    json file_list = json::array();
    for (std::int64_t i = 0; i < file_count; ++i) {
        const auto& file = files[static_cast<std::size_t>(i)];
        std::error_code size_error;
        const auto bytes = file.file_size(size_error);
        file_list.push_back({{"name", file.path().filename().string()},
                             {"bytes", size_error ? 0 : bytes},
                             {"task", i < files_granted ? spawn("hash", file.path()) : json()}});
    }
    json subdir_list = json::array();
    for (std::int64_t i = 0; i < subdir_count; ++i) {
        const auto& subdir = subdirs[static_cast<std::size_t>(i)];
        subdir_list.push_back({{"name", subdir.path().filename().string()},
                               {"task", i < subdirs_granted ? spawn("list", subdir.path()) : json()}});
    }
    const char* limited_by = !may_spawn && file_count + subdir_count > 0       ? "maxDepth"
                             : files_granted + subdirs_granted < file_count + subdir_count ? "maxTasks"
                                                                                       : "";
    return json{{"path", directory.string()},
                {"files", std::move(file_list)},
                {"subdirs", std::move(subdir_list)},
                {"skippedOther", skipped_other},
                {"listError", error ? error.message() : ""},
                {"limitedBy", limited_by}};
}

/// What the report adds up while it walks the scan's outputs.
struct Totals {
    std::size_t directories = 0;
    std::size_t files = 0;
    std::size_t hashed = 0;
    std::size_t unreadable = 0;
    std::uint64_t bytes = 0;
    std::size_t not_descended = 0;  // subdirectories left out by a limit
    std::size_t not_hashed = 0;     // files left out by a limit
    std::map<std::string, std::size_t> limited_by;  // limit -> directories it cut short
    std::vector<std::pair<std::uint64_t, std::string>> sizes;
    std::map<std::pair<std::string, std::uint64_t>, std::vector<std::string>> by_digest;
};

void add_directory(const jobgraph::TaskContext& ctx, const std::string& task_id, Totals& totals) {
    const auto listing = ctx.output_of(task_id);
    if (!listing) return;
    ++totals.directories;
    if (const auto limit = listing->at("limitedBy").get<std::string>(); !limit.empty()) ++totals.limited_by[limit];
    for (const auto& file : listing->at("files")) {
        ++totals.files;
        totals.bytes += file.at("bytes").get<std::uint64_t>();
        if (file.at("task").is_null()) {
            ++totals.not_hashed;
            continue;
        }
        const auto hashed = ctx.output_of(file.at("task").get<std::string>());
        if (!hashed || hashed->contains("unreadable")) {
            ++totals.unreadable;
            continue;
        }
        ++totals.hashed;
        const auto path = hashed->at("path").get<std::string>();
        const auto bytes = hashed->at("bytes").get<std::uint64_t>();
        totals.sizes.emplace_back(bytes, path);
        if (bytes > 0) totals.by_digest[{hashed->at("fnv1a64").get<std::string>(), bytes}].push_back(path);
    }
    for (const auto& subdir : listing->at("subdirs")) {
        if (subdir.at("task").is_null()) {
            ++totals.not_descended;
        } else {
            add_directory(ctx, subdir.at("task").get<std::string>(), totals);
        }
    }
}

json report(jobgraph::TaskContext& ctx) {
    Totals totals;
    add_directory(ctx, "scan", totals);
    std::sort(totals.sizes.rbegin(), totals.sizes.rend());
    totals.sizes.resize(std::min<std::size_t>(totals.sizes.size(), 5));
    json duplicates = json::array();
    for (const auto& [key, paths] : totals.by_digest) {
        if (paths.size() > 1) duplicates.push_back({{"fnv1a64", key.first}, {"bytes", key.second}, {"paths", paths}});
    }
    return json{{"directories", totals.directories}, {"files", totals.files},        {"bytes", totals.bytes},
                {"hashed", totals.hashed},           {"unreadable", totals.unreadable},
                {"notDescended", totals.not_descended}, {"notHashed", totals.not_hashed},
                {"limitedBy", totals.limited_by},    {"largest", totals.sizes},      {"duplicates", duplicates}};
}

void print_report(const json& summary) {
    fmt::print("{} directories, {} files, {} bytes; {} files hashed, {} unreadable\n",
               summary["directories"].get<std::size_t>(), summary["files"].get<std::size_t>(),
               summary["bytes"].get<std::uint64_t>(), summary["hashed"].get<std::size_t>(),
               summary["unreadable"].get<std::size_t>());
    for (const auto& [limit, count] : summary["limitedBy"].items()) {
        fmt::print("{} cut {} directories short\n", limit, count.get<std::size_t>());
    }
    if (summary["notDescended"] > 0 || summary["notHashed"] > 0) {
        fmt::print("left out by the limits: {} subdirectories not entered, {} files not hashed\n",
                   summary["notDescended"].get<std::size_t>(), summary["notHashed"].get<std::size_t>());
    }
    if (!summary["largest"].empty()) fmt::print("largest files:\n");
    for (const auto& entry : summary["largest"]) {
        fmt::print("  {:>12}  {}\n", entry[0].get<std::uint64_t>(), entry[1].get<std::string>());
    }
    const auto& duplicates = summary["duplicates"];
    fmt::print("identical contents (same size and FNV-1a 64 digest): {} groups\n", duplicates.size());
    for (std::size_t i = 0; i < std::min<std::size_t>(duplicates.size(), 5); ++i) {
        fmt::print("  {} ({} bytes): {}\n", duplicates[i]["fnv1a64"].get<std::string>(),
                   duplicates[i]["bytes"].get<std::uint64_t>(),
                   fmt::join(duplicates[i]["paths"].get<std::vector<std::string>>(), ", "));
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Walk a folder as a job: a task per directory and per file, then a report", "dirscan"};
    std::string root;
    std::int64_t max_depth = 4;
    std::int64_t max_tasks = 500;
    std::size_t workers = 0;
    Walk walk;
    app.add_option("dir", root, "The folder to scan")->required()->check(CLI::ExistingDirectory);
    app.add_option("--max-depth", max_depth, "Deepest task level (the folder is 0, its entries 1, ...)")
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{1000}));
    app.add_option("--max-tasks", max_tasks, "Most tasks in the job, report included")
        ->check(CLI::Range(std::int64_t{2}, std::int64_t{1000000}));
    app.add_option("--workers", workers, "Worker threads (default: hardware concurrency)");
    app.add_flag("--strict-limits", walk.strict_limits, "Spawn regardless of the limits and let the library refuse");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? 0 : 2;
    }

    walk.task_budget = max_tasks - 2;  // "scan" and "report" are tasks too

    jobgraph::HandlerRegistry registry;
    registry.add("fs", "list", [&walk](jobgraph::TaskContext& ctx) { return list_directory(ctx, walk); });
    registry.add("fs", "hash", hash_file);
    registry.add("fs", "report", report);

    jobgraph::JobSpec job{.name = "dirscan " + root,
                          .limits = {.max_tasks = max_tasks, .max_depth = max_depth},
                          .abort_on_failure = false,  // one refused batch should not stop the others
                          .tasks = {{.id = "scan", .service = "fs", .command = "list", .input = {{"path", root}}},
                                    {.id = "report", .service = "fs", .command = "report", .depends_on = {"scan"}}}};

    const auto result = jobgraph::Orchestrator(registry, {.workers = workers}).run(job);
    fmt::print("job: {} tasks (maxTasks {}), deepest level {} (maxDepth {}), {:.1f} ms, {}\n", result.stats.total,
               max_tasks,
               std::max_element(result.tasks.begin(), result.tasks.end(),
                                [](const auto& a, const auto& b) { return a.depth < b.depth; })->depth,
               max_depth, result.stats.wall_ms, jobgraph::to_string(result.status));
    for (const auto& task : result.tasks) {
        if (task.status == jobgraph::TaskStatus::failed) {
            fmt::print("failed {}: {}\n", task.id, task.output.at("error").get<std::string>());
        }
    }
    const auto& report_task = result.at("report");
    if (report_task.status != jobgraph::TaskStatus::succeeded) {
        fmt::print("report {}: {}\n", jobgraph::to_string(report_task.status), report_task.output.dump());
        return 1;
    }
    print_report(report_task.output);
    return 0;
}
