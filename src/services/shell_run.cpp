#include "services/shell_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace jobgraph::services {
namespace {

using namespace std::chrono_literals;

// Output beyond this is dropped (and the drop noted) so a chatty program cannot exhaust memory.
constexpr std::size_t max_captured_bytes = 1 << 20;
// How often a waiting runner looks at the stop token.
constexpr auto stop_poll_interval = 20ms;
// How long a stopped program may take to exit after SIGTERM before it gets SIGKILL.
constexpr auto termination_grace = 200ms;

std::string system_error_text(int error) { return std::strerror(error); }

/// Owns a file descriptor; closes it once.
class FileDescriptor {
public:
    FileDescriptor() = default;
    explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
    FileDescriptor(FileDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    FileDescriptor& operator=(FileDescriptor&& other) noexcept {
        if (this != &other) {
            close();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    ~FileDescriptor() { close(); }

    int get() const noexcept { return fd_; }
    bool is_open() const noexcept { return fd_ >= 0; }
    void close() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

struct Pipe {
    FileDescriptor read_end;
    FileDescriptor write_end;
};

// Close-on-exec, so concurrent shell/run tasks do not leak each other's pipes into their children.
Pipe make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2: " + system_error_text(errno));
    return Pipe{FileDescriptor(fds[0]), FileDescriptor(fds[1])};
}

/// posix_spawn's C structures with their destructors.
struct SpawnSetup {
    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attributes{};

    SpawnSetup() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attributes);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;
    ~SpawnSetup() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attributes);
    }
};

// The runner's environment with the invocation's entries added or replaced.
std::vector<std::string> merged_environment(const std::map<std::string, std::string>& overrides) {
    std::vector<std::string> entries;
    for (char** entry = environ; entry && *entry; ++entry) {
        const std::string_view text(*entry);
        const auto name = text.substr(0, text.find('='));
        if (!overrides.contains(std::string(name))) entries.emplace_back(text);
    }
    for (const auto& [name, value] : overrides) entries.push_back(name + "=" + value);
    return entries;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (auto& text : strings) pointers.push_back(text.data());
    pointers.push_back(nullptr);
    return pointers;
}

void append_capped(std::string& captured, const char* data, std::size_t size, bool& truncated) {
    const std::size_t room = captured.size() < max_captured_bytes ? max_captured_bytes - captured.size() : 0;
    captured.append(data, std::min(room, size));
    if (size > room) truncated = true;
}

/// Reads both pipes until both reach end of file or the stop token turns on.
void drain_output(Pipe& out, Pipe& err, ProgramOutcome& outcome, const std::stop_token& stop) {
    bool out_truncated = false;
    bool err_truncated = false;
    char buffer[8192];
    while ((out.read_end.is_open() || err.read_end.is_open()) && !stop.stop_requested()) {
        pollfd fds[2] = {{out.read_end.get(), POLLIN, 0}, {err.read_end.get(), POLLIN, 0}};
        const int ready = ::poll(fds, 2, static_cast<int>(stop_poll_interval.count()));
        if (ready < 0 && errno != EINTR) throw std::runtime_error("poll: " + system_error_text(errno));
        if (ready <= 0) continue;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            Pipe& pipe = i == 0 ? out : err;
            const ssize_t got = ::read(pipe.read_end.get(), buffer, sizeof buffer);
            if (got > 0) {
                append_capped(i == 0 ? outcome.stdout_text : outcome.stderr_text, buffer,
                              static_cast<std::size_t>(got), i == 0 ? out_truncated : err_truncated);
            } else if (got == 0 || errno != EINTR) {
                pipe.read_end.close();
            }
        }
    }
    if (out_truncated) outcome.stdout_text += "\n[output truncated]";
    if (err_truncated) outcome.stderr_text += "\n[output truncated]";
}

/// Waits for the process to exit; returns false if the stop token turned on first.
bool wait_for_exit(pid_t pid, int& status, const std::stop_token& stop) {
    // Usually the program is gone just after its pipes closed: start with short naps.
    auto nap = std::chrono::milliseconds{1};
    for (;;) {
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) return true;
        if (done < 0 && errno != EINTR) throw std::runtime_error("waitpid: " + system_error_text(errno));
        if (stop.stop_requested()) return false;
        std::this_thread::sleep_for(nap);
        nap = std::min(nap * 2, std::chrono::duration_cast<std::chrono::milliseconds>(stop_poll_interval));
    }
}

// The program runs in its own process group, so this also ends anything it started itself.
void terminate_process_group(pid_t pid, int& status) {
    ::kill(-pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + termination_grace;
    while (std::chrono::steady_clock::now() < deadline) {
        if (::waitpid(pid, &status, WNOHANG) == pid) return;
        std::this_thread::sleep_for(5ms);
    }
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

}  // namespace

ProgramOutcome run_program(const ProgramInvocation& invocation, std::stop_token stop) {
    if (invocation.argv.empty()) throw std::runtime_error("argv must name a program");

    Pipe out = make_pipe();
    Pipe err = make_pipe();
    SpawnSetup setup;
    posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&setup.actions, out.write_end.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, err.write_end.get(), STDERR_FILENO);
    if (invocation.cwd) posix_spawn_file_actions_addchdir_np(&setup.actions, invocation.cwd->c_str());

    sigset_t no_signals;
    sigemptyset(&no_signals);
    sigset_t default_signals;
    sigemptyset(&default_signals);
    sigaddset(&default_signals, SIGPIPE);
    sigaddset(&default_signals, SIGTERM);
    sigaddset(&default_signals, SIGINT);
    posix_spawnattr_setsigmask(&setup.attributes, &no_signals);
    posix_spawnattr_setsigdefault(&setup.attributes, &default_signals);
    posix_spawnattr_setpgroup(&setup.attributes, 0);
    posix_spawnattr_setflags(&setup.attributes,
                             POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<std::string> argv = invocation.argv;
    std::vector<std::string> environment = merged_environment(invocation.env);
    auto argv_pointers = pointers_to(argv);
    auto env_pointers = pointers_to(environment);

    pid_t pid = 0;
    const int spawn_error = ::posix_spawnp(&pid, argv.front().c_str(), &setup.actions, &setup.attributes,
                                           argv_pointers.data(), env_pointers.data());
    if (spawn_error != 0) {
        throw std::runtime_error(fmt::format("cannot run {}{}: {}", argv.front(),
                                             invocation.cwd ? fmt::format(" in {}", *invocation.cwd) : "",
                                             system_error_text(spawn_error)));
    }
    // Only the child writes now; closing our copies lets the reads see end of file.
    out.write_end.close();
    err.write_end.close();

    ProgramOutcome outcome;
    int status = 0;
    drain_output(out, err, outcome, stop);
    if (!wait_for_exit(pid, status, stop)) {
        terminate_process_group(pid, status);
        outcome.stopped = true;
    } else if (stop.stop_requested() && (out.read_end.is_open() || err.read_end.is_open())) {
        // The program exited but something it started still holds the pipes open.
        ::kill(-pid, SIGKILL);
        outcome.stopped = true;
    }
    if (WIFEXITED(status)) {
        outcome.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        outcome.signal = WTERMSIG(status);
        outcome.exit_code = 128 + *outcome.signal;
    }
    return outcome;
}

}  // namespace jobgraph::services
