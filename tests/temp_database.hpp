#pragma once
// A SQLite database file in the temp folder, removed with its WAL files at the end of the test.

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

namespace jobgraph::testing {

struct TempDatabase {
    std::filesystem::path path;
    explicit TempDatabase(const std::string& prefix = "jobgraph-test") {
        static std::atomic<int> counter{0};
        path = std::filesystem::temp_directory_path() / fmt::format("{}-{}-{}.db", prefix, ::getpid(), counter++);
    }
    TempDatabase(const TempDatabase&) = delete;
    TempDatabase& operator=(const TempDatabase&) = delete;
    ~TempDatabase() {
        for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
    }
};

}  // namespace jobgraph::testing
