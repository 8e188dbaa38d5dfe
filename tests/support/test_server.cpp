#include "test_server.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#if !defined(TEST_SERVER_SCRIPT) || !defined(TEST_SERVER_PYTHON)
#error "TEST_SERVER_SCRIPT must name tests/support/test_server.py, TEST_SERVER_PYTHON a python3"
#endif

namespace jobgraph::testing {
namespace {

class TestServer {
public:
    TestServer() {
        int to_server[2];
        int from_server[2];
        // Close-on-exec: programs the tests start must not hold the server's stdin open.
        if (::pipe2(to_server, O_CLOEXEC) != 0 || ::pipe2(from_server, O_CLOEXEC) != 0) {
            throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, to_server[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, from_server[1], STDOUT_FILENO);
        const char* argv[] = {TEST_SERVER_PYTHON, TEST_SERVER_SCRIPT, nullptr};
        const int error =
            ::posix_spawn(&pid_, TEST_SERVER_PYTHON, &actions, nullptr, const_cast<char**>(argv), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(to_server[0]);
        ::close(from_server[1]);
        if (error != 0)
            throw std::runtime_error(std::string("cannot start " TEST_SERVER_PYTHON ": ") + std::strerror(error));
        stdin_ = to_server[1];

        // The first line is "PORT <n>".
        std::string line;
        char c = 0;
        while (::read(from_server[0], &c, 1) == 1 && c != '\n') line += c;
        ::close(from_server[0]);
        if (line.rfind("PORT ", 0) != 0)
            throw std::runtime_error("the test server said \"" + line + "\", not its port");
        url_ = "http://127.0.0.1:" + line.substr(5);
    }
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;
    ~TestServer() {
        ::close(stdin_);  // the server's signal to exit
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }

    const std::string& url() const { return url_; }

private:
    pid_t pid_ = 0;
    int stdin_ = -1;
    std::string url_;
};

}  // namespace

const std::string& test_server_url() {
    static const TestServer server;
    return server.url();
}

}  // namespace jobgraph::testing
