// The store contract's cases run against SqliteStore, on a file in the temp folder.
#include "store_contract.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>

namespace jobgraph::testing {
namespace {

namespace fs = std::filesystem;

class SqliteBackend final : public StoreBackend {
public:
    SqliteBackend() {
        std::random_device device;
        const std::uint64_t bits = (std::uint64_t{device()} << 32) | device();
        path_ = fs::temp_directory_path() / fmt::format("jobgraph-contract-{:016x}.db", bits);
    }
    ~SqliteBackend() override {
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::error_code ignored;
            fs::remove(path_.string() + suffix, ignored);
        }
    }

    std::unique_ptr<JobStore> open() override { return std::make_unique<SqliteStore>(path_); }

    void set_schema_version(int version) override {
        // user_version is the big-endian 32-bit integer at offset 60 of the header; the last
        // store to close has checkpointed the WAL into the file.
        std::fstream file(path_, std::ios::binary | std::ios::in | std::ios::out);
        file.seekp(60);
        const char bytes[4] = {static_cast<char>(version >> 24), static_cast<char>(version >> 16),
                               static_cast<char>(version >> 8), static_cast<char>(version)};
        file.write(bytes, 4);
    }

private:
    fs::path path_;
};

}  // namespace

std::unique_ptr<StoreBackend> make_store_backend() {
    return std::make_unique<SqliteBackend>();
}

}  // namespace jobgraph::testing
