// Fuzzes what resume() reads from a SQLite store file. A template store holds a finished job
// of two tasks (b depends on a) with its result cleared, so that resume() reads it back. Each
// input is a list of lines "<key>\t<value>" that overwrite parts of a copy of that file:
//   status0 identity0 outcome0 id0   the tasks row at position 0 (status1 ... id1: position 1)
//   history0 history1                "<status>\t<at>\t<reason>": the first such line of a
//                                    position replaces its history rows, the next ones append;
//                                    an empty value only deletes them
//   spec                             the job's stored spec
// Unknown keys are ignored. resume() must then either throw StoreError or SpecError, or end
// the job with no task pending or started and no id twice.
#include <jobgraph/errors.hpp>
#include <jobgraph/orchestrator.hpp>
#include <jobgraph/registry.hpp>
#include <jobgraph/result.hpp>
#include <jobgraph/spec.hpp>
#include <jobgraph/store.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const jobgraph::HandlerRegistry& fuzz_registry() {
    static const jobgraph::HandlerRegistry registry = [] {
        jobgraph::HandlerRegistry r;
        r.add("t", "echo", [](jobgraph::TaskContext& ctx) { return ctx.input(); });
        return r;
    }();
    return registry;
}

[[noreturn]] void violated(const char* what, const jobgraph::JobResult* result = nullptr) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    if (result != nullptr) std::fprintf(stderr, "%s\n", json(*result).dump(2).c_str());
    std::abort();
}

// One folder per process, removed at exit.
struct Workspace {
    fs::path folder;
    fs::path template_file;
    fs::path file;
    std::string job_id;

    Workspace() {
        folder = fs::temp_directory_path() / ("jobgraph-fuzz-store-" + std::to_string(::getpid()));
        fs::remove_all(folder);
        fs::create_directories(folder);
        template_file = folder / "template.db";
        file = folder / "job.db";
        jobgraph::JobSpec job;
        job.name = "stored";
        job.tasks.push_back({.id = "a", .service = "t", .command = "echo", .input = {{"n", 1}}});
        job.tasks.push_back({.id = "b", .service = "t", .command = "echo", .depends_on = {"a"}});
        const jobgraph::Orchestrator orchestrator(fuzz_registry(), {.workers = 1});
        {
            jobgraph::SqliteStore store(template_file);
            job_id = store.create_job(job);
            orchestrator.resume(job_id, store);
            store.clear_result(job_id);
        }  // closing the last connection folds the WAL into the file
    }
    ~Workspace() {
        std::error_code ignored;
        fs::remove_all(folder, ignored);
    }
};

class Database {
public:
    explicit Database(const fs::path& file) {
        if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK) violated("cannot open the copied store");
    }
    ~Database() { sqlite3_close(db_); }
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    // Runs one statement with text parameters; a failure (a constraint) only skips the change.
    void run(const char* sql, const std::vector<std::string_view>& texts, const std::vector<std::int64_t>& numbers) {
        sqlite3_stmt* statement = nullptr;
        if (sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr) != SQLITE_OK) violated(sqlite3_errmsg(db_));
        int index = 1;
        for (std::string_view text : texts) {
            sqlite3_bind_text(statement, index++, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
        }
        for (std::int64_t number : numbers) sqlite3_bind_int64(statement, index++, number);
        sqlite3_step(statement);
        sqlite3_finalize(statement);
    }

private:
    sqlite3* db_ = nullptr;
};

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    while (true) {
        const std::size_t end = text.find(separator);
        parts.push_back(text.substr(0, end));
        if (end == std::string_view::npos) return parts;
        text.remove_prefix(end + 1);
    }
}

void apply(Database& db, const std::string& job_id, std::string_view input) {
    bool history_replaced[2] = {false, false};
    std::int64_t next_seq[2] = {0, 0};
    for (std::string_view line : split(input, '\n')) {
        const std::size_t tab = line.find('\t');
        if (tab == std::string_view::npos) continue;
        const std::string_view key = line.substr(0, tab);
        const std::string_view value = line.substr(tab + 1);
        if (key == "spec") {
            db.run("UPDATE job_specs SET spec = ?1 WHERE job_id = ?2", {value, job_id}, {});
            continue;
        }
        if (key.size() < 2 || (key.back() != '0' && key.back() != '1')) continue;
        const std::int64_t position = key.back() - '0';
        const std::string_view column = key.substr(0, key.size() - 1);
        if (column == "status" || column == "identity" || column == "outcome" || column == "id") {
            const std::string sql =
                "UPDATE tasks SET " + std::string(column) + " = ?1 WHERE job_id = ?2 AND position = ?3";
            db.run(sql.c_str(), {value, job_id}, {position});
        } else if (column == "history") {
            if (!history_replaced[position]) {
                db.run("DELETE FROM task_history WHERE job_id = ?1 AND position = ?2", {job_id}, {position});
                history_replaced[position] = true;
            }
            if (value.empty()) continue;  // "history0\t" alone: the position keeps no history rows
            std::vector<std::string_view> fields = split(value, '\t');
            fields.resize(3, std::string_view(""));  // "" binds as text; a default string_view as NULL
            db.run(
                "INSERT INTO task_history (job_id, status, at, reason, position, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                {job_id, fields[0], fields[1], fields[2]}, {position, next_seq[position]++});
        }
    }
}

void check(const jobgraph::JobResult& result) {
    if (result.status == jobgraph::JobStatus::running) violated("the resumed job did not end", &result);
    std::set<std::string> ids;
    for (const jobgraph::TaskRecord& task : result.tasks) {
        if (!ids.insert(task.id).second) violated("two tasks share an id", &result);
        if (task.status == jobgraph::TaskStatus::pending || task.status == jobgraph::TaskStatus::started) {
            violated("a task was left pending or started", &result);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Workspace workspace;
    static const jobgraph::Orchestrator orchestrator(fuzz_registry(), {.workers = 1});

    fs::copy_file(workspace.template_file, workspace.file, fs::copy_options::overwrite_existing);
    {
        Database db(workspace.file);
        apply(db, workspace.job_id, std::string_view(reinterpret_cast<const char*>(data), size));
    }
    try {
        jobgraph::SqliteStore store(workspace.file);
        check(orchestrator.resume(workspace.job_id, store));
    } catch (const jobgraph::StoreError&) {
    } catch (const jobgraph::SpecError&) {
    }
    for (const char* suffix : {"-wal", "-shm"}) fs::remove(workspace.file.string() + suffix);
    return 0;
}
