#pragma once
// The tests' own HTTP server (test_server.py), started on first use and stopped at exit.

#include <string>

namespace jobgraph::testing {

/// @brief "http://127.0.0.1:<port>" of the test server, started by the first call (python3
/// runs tests/support/test_server.py); it exits when this process does.
const std::string& test_server_url();

/// @brief A URL on the test server, e.g. server_url("/echo").
inline std::string server_url(const std::string& path) {
    return test_server_url() + path;
}

}  // namespace jobgraph::testing
