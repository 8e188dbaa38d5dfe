// The Catch2 runner of the PostgreSQL tests, the store's and the runner's. They need a server:
// JOBGRAPH_TEST_POSTGRES holds a libpq connection string to a database the tests may create
// schemas in (docs/store.md). Without it they are skipped, with the exit code ctest reports as
// a skip, never as a pass.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <iostream>
#include <string_view>

namespace {
constexpr int skipped_exit_code = 77;  // SKIP_RETURN_CODE where the binaries are declared
}

int main(int argc, char* argv[]) {
    bool listing = false;  // listing the tests (as ctest's discovery does) needs no server
    for (int i = 1; i < argc; ++i) listing = listing || std::string_view(argv[i]).starts_with("--list");
    const char* conninfo = std::getenv("JOBGRAPH_TEST_POSTGRES");
    if (!listing && (conninfo == nullptr || conninfo[0] == '\0')) {
        std::cout << "Skipped: JOBGRAPH_TEST_POSTGRES is not set (a libpq connection string to a test database)\n";
        return skipped_exit_code;
    }
    return Catch::Session().run(argc, argv);
}
