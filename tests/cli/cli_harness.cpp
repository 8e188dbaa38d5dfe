#include "cli_harness.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <cerrno>
#include <stdexcept>

#include <pty.h>
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

std::filesystem::path scratch_path(const std::string& name) {
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
    const auto& directory = scratch.path;
    static std::atomic<int> counter{0};
    return directory / (std::to_string(counter++) + "-" + name);
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

CliRun run_cli(const std::vector<std::string>& args) {
    return run_binary(JOBGRAPH_CLI_PATH, args);
}

namespace {

std::string command_line(const std::string& binary, const std::vector<std::string>& args,
                         const std::filesystem::path& out_path) {
    std::string command = shell_quoted(binary);
    for (const auto& arg : args) command += " " + shell_quoted(arg);
    return command + " </dev/null >" + shell_quoted(out_path.string());
}

}  // namespace

CliRun run_binary(const std::string& binary, const std::vector<std::string>& args) {
    const auto out_path = scratch_path("stdout.txt");
    const auto err_path = scratch_path("stderr.txt");
    const std::string command = command_line(binary, args, out_path) + " 2>" + shell_quoted(err_path.string());

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
    const std::string command = command_line(JOBGRAPH_CLI_PATH, args, out_path);
    int terminal = -1;
    int child_side = -1;
    if (::openpty(&terminal, &child_side, nullptr, nullptr, nullptr) != 0) throw std::runtime_error("openpty failed");
    const auto started = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(child_side, STDERR_FILENO);
        ::close(terminal);
        ::close(child_side);
        ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(child_side);
    CliRun run;
    // Reads until the program and the shell have closed their side (then read fails, EIO).
    char buffer[4096];
    for (;;) {
        const ssize_t got = ::read(terminal, buffer, sizeof buffer);
        if (got > 0) {
            run.err.append(buffer, static_cast<std::size_t>(got));
        } else if (got < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(terminal);
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = read_file(out_path);
    return run;
}

std::string example_job(const std::string& file_name) {
    return std::string(EXAMPLE_JOBS_DIR) + "/" + file_name;
}
std::string fixture_job(const std::string& file_name) {
    return std::string(FIXTURE_JOBS_DIR) + "/" + file_name;
}

nlohmann::json run_job_for_result(const std::string& job_path, CliRun* run,
                                  const std::vector<std::string>& extra_args) {
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
