// The durable workload: one DAG run in memory and with the SQLite store, alternately, plus the
// store's floor on the same file system: how many tiny WAL transactions SQLite itself commits
// per second.

#include "durable.hpp"

#include "timing.hpp"

#include <jobgraph/jobgraph.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace bench {
namespace {

namespace fs = std::filesystem;

jobgraph::JobSpec dag_job(const StaticGraph& graph) {
    jobgraph::JobSpec job;
    job.name = "durable";
    job.limits.max_tasks = graph.size;
    for (std::uint32_t i = 0; i < graph.size; ++i) {
        jobgraph::TaskSpec task;
        task.service = "bench";
        task.command = "work";
        task.input = task_input(i);
        for (auto d = graph.deps_begin(i); d != graph.deps_end(i); ++d) task.depends_on.push_back(std::to_string(*d));
        job.tasks.push_back(std::move(task));
    }
    return job;
}

double elapsed_ms(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

void exec(sqlite3* db, const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db));
}

// Transactions per second of BEGIN IMMEDIATE; INSERT one small row; COMMIT, in WAL mode with
// synchronous=NORMAL as SqliteStore runs it, on a file in @p folder.
double floor_transactions_per_second(const fs::path& folder, int transactions) {
    const fs::path file = folder / "floor.db";
    sqlite3* db = nullptr;
    if (sqlite3_open(file.c_str(), &db) != SQLITE_OK) throw std::runtime_error("cannot open the floor's database");
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, "PRAGMA synchronous=NORMAL");
    exec(db, "CREATE TABLE rows (id INTEGER PRIMARY KEY, value TEXT)");
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO rows (value) VALUES ('{\"status\":\"started\"}')", -1, &insert, nullptr);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < transactions; ++i) {
        exec(db, "BEGIN IMMEDIATE");
        sqlite3_step(insert);
        sqlite3_reset(insert);
        exec(db, "COMMIT");
    }
    const double ms = elapsed_ms(start);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    fs::remove(file);
    fs::remove(fs::path(file.string() + "-wal"));
    fs::remove(fs::path(file.string() + "-shm"));
    return transactions / (ms / 1000.0);
}

// The least any grouping of commits could cost this job with SqliteStore: its records, as the
// run in memory left them, written in two transactions, every start and then every end.
double two_commit_floor_ms(const fs::path& folder, const jobgraph::JobSpec& job,
                           const std::vector<jobgraph::TaskRecord>& finished) {
    const fs::path file = folder / "two-commits.db";
    double ms = 0.0;
    {
        jobgraph::SqliteStore store(file);
        const std::string id = store.create_job(job);
        std::vector<jobgraph::TaskRecord> started = finished;
        for (auto& record : started) {
            record.status = jobgraph::TaskStatus::started;
            record.output = nullptr;
            record.completed_at.reset();
            record.history.resize(2);  // pending, started
        }
        std::vector<jobgraph::TaskWrite> starts, ends;
        for (std::size_t i = 0; i < finished.size(); ++i) {
            starts.push_back({.position = i, .record = &started[i], .saved_history = 0});
            ends.push_back({.position = i, .record = &finished[i], .saved_history = 2});
        }
        const auto start = std::chrono::steady_clock::now();
        store.save_tasks(id, starts);
        store.save_tasks(id, ends);
        ms = elapsed_ms(start);
    }
    fs::remove(file);
    fs::remove(fs::path(file.string() + "-wal"));
    fs::remove(fs::path(file.string() + "-shm"));
    return ms;
}

}  // namespace

DurableFigures run_durable(const StaticGraph& graph, std::size_t workers, int repeat) {
    jobgraph::HandlerRegistry registry;
    registry.add("bench", "work", [](jobgraph::TaskContext& ctx) { return task_output(ctx.input()); });
    const jobgraph::Orchestrator orchestrator(registry, {.workers = workers});
    const jobgraph::JobSpec job = dag_job(graph);
    const fs::path folder = fs::temp_directory_path() / ("jobgraph-durable-" + std::to_string(::getpid()));
    fs::create_directories(folder);

    DurableFigures figures;
    std::vector<double> memory, durable, floor, two_commits;
    for (int rep = 0; rep < repeat; ++rep) {
        auto start = std::chrono::steady_clock::now();
        const auto in_memory = orchestrator.run(job);
        memory.push_back(elapsed_ms(start));
        figures.ok = figures.ok && in_memory.status == jobgraph::JobStatus::succeeded;

        const fs::path file = folder / ("run-" + std::to_string(rep) + ".db");
        jobgraph::SqliteStore store(file);
        const std::string id = store.create_job(job);  // untimed: the job as submitted
        start = std::chrono::steady_clock::now();
        const auto stored = orchestrator.resume(id, store);
        durable.push_back(elapsed_ms(start));
        figures.ok = figures.ok && stored.status == jobgraph::JobStatus::succeeded &&
                     stored.tasks.size() == graph.size;

        floor.push_back(floor_transactions_per_second(folder, 5'000));
        two_commits.push_back(two_commit_floor_ms(folder, job, in_memory.tasks));
    }
    fs::remove_all(folder);
    figures.memory_ms = summarize(memory).median;
    figures.durable_ms = summarize(durable).median;
    figures.floor_per_second = summarize(floor).median;
    figures.two_commit_ms = summarize(two_commits).median;
    return figures;
}

}  // namespace bench
