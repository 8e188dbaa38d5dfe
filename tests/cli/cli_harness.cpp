#include "cli_harness.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cli_test {
namespace {

// Single quotes keep every argument literal for /bin/sh.
std::string shell_quoted(const std::string& text) {
    std::string quoted = "'";
    for (const char c : text) {
        if (c == '\'') {
            quoted += "'\\''";
        } else {
            quoted += c;
        }
    }
    return quoted + "'";
}

}  // namespace

const std::filesystem::path& scratch_directory() {
    // One directory per test process: ctest may run several test cases at once.
    struct ScratchDirectory {
        std::filesystem::path path =
            std::filesystem::temp_directory_path() / ("jobgraph-cli-tests-" + std::to_string(::getpid()));
        ScratchDirectory() { std::filesystem::create_directories(path); }
        ~ScratchDirectory() {
            std::error_code ignored;
            std::filesystem::remove_all(path, ignored);
        }
    };
    static const ScratchDirectory scratch;
    return scratch.path;
}

std::filesystem::path scratch_path(const std::string& name) {
    static std::atomic<int> counter{0};
    return scratch_directory() / (std::to_string(counter++) + "-" + name);
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

CliRun run_cli(const std::vector<std::string>& args) { return run_binary(JOBGRAPH_CLI_PATH, args); }

CliRun run_binary(const std::string& binary, const std::vector<std::string>& args) {
    const auto out_path = scratch_path("stdout.txt");
    const auto err_path = scratch_path("stderr.txt");
    // From the repository root, as the README runs the example jobs; their scratch files go to
    // $TMPDIR, here this process's own directory, so that test cases running at once keep apart.
    // Appended piece by piece: GCC 12's -Wrestrict misreads " " + std::string once inlined.
    std::string command = "cd ";
    command += shell_quoted(REPOSITORY_DIR);
    command += " && TMPDIR=";
    command += shell_quoted(scratch_directory().string());
    command += " exec ";
    command += shell_quoted(binary);
    for (const auto& arg : args) {
        command += ' ';
        command += shell_quoted(arg);
    }
    command += " </dev/null >";
    command += shell_quoted(out_path.string());
    command += " 2>";
    command += shell_quoted(err_path.string());

    const auto started = std::chrono::steady_clock::now();
    const int status = std::system(command.c_str());
    CliRun run;
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = read_file(out_path);
    run.err = read_file(err_path);
    return run;
}

CliRun run_cli_on_terminal(const std::vector<std::string>& args) {
    const auto out_path = scratch_path("stdout.txt");
    // Prepared before the fork: the child only opens, duplicates and executes.
    std::vector<std::string> words{JOBGRAPH_CLI_PATH};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    const std::string out_file = out_path.string();
    int terminal = -1;
    int child_side = -1;
    if (::openpty(&terminal, &child_side, nullptr, nullptr, nullptr) != 0) throw std::runtime_error("openpty failed");
    const auto started = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::close(terminal);
        ::close(child_side);
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        const int in = ::open("/dev/null", O_RDONLY);
        const int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || ::chdir(REPOSITORY_DIR) != 0) ::_exit(126);
        ::dup2(in, STDIN_FILENO);
        ::dup2(out, STDOUT_FILENO);
        ::dup2(child_side, STDERR_FILENO);
        ::close(in);
        ::close(out);
        ::close(terminal);
        ::close(child_side);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(child_side);
    CliRun run;
    // Reads until the program has closed its side (read then fails, EIO), or
    // until the deadline: a runner that hangs is killed and reported as such (exit code -1).
    const auto deadline = started + std::chrono::seconds(30);
    bool timed_out = false;
    char buffer[4096];
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd ready{terminal, POLLIN, 0};
        const int polled = left.count() > 0 ? ::poll(&ready, 1, static_cast<int>(left.count())) : 0;
        if (polled < 0 && errno == EINTR) continue;
        if (polled == 0) {
            timed_out = true;
            ::kill(pid, SIGKILL);
            break;
        }
        const ssize_t got = polled > 0 ? ::read(terminal, buffer, sizeof buffer) : -1;
        if (got > 0) {
            run.err.append(buffer, static_cast<std::size_t>(got));
        } else if (got < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::close(terminal);
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    run.exit_code = !timed_out && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = read_file(out_path);
    return run;
}

std::string example_job(const std::string& file_name) { return std::string(EXAMPLE_JOBS_DIR) + "/" + file_name; }
std::string fixture_job(const std::string& file_name) { return std::string(FIXTURE_JOBS_DIR) + "/" + file_name; }

nlohmann::json run_job_for_result(const std::string& job_path, CliRun* run, const std::vector<std::string>& extra_args) {
    const auto json_path = scratch_path("result.json");
    std::vector<std::string> args{"run", job_path, "--json", json_path.string(), "--quiet"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    CliRun done = run_cli(args);
    if (run) *run = done;
    return nlohmann::json::parse(read_file(json_path));
}

nlohmann::json task_of(const nlohmann::json& result, const std::string& id) {
    for (const auto& task : result.at("tasks")) {
        if (task.at("id") == id) return task;
    }
    return nullptr;
}

}  // namespace cli_test
