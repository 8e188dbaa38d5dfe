#include "services/shell_run.hpp"

#include "services/process_sweep.hpp"
#include "services/running_commands.hpp"

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

// The runner's environment with the invocation's entries added or replaced, and the marker
// that lets its descendants be found.
std::vector<std::string> merged_environment(const std::map<std::string, std::string>& overrides,
                                            const std::string& marker_entry) {
    std::vector<std::string> entries;
    for (char** entry = environ; entry && *entry; ++entry) {
        const std::string_view text(*entry);
        const auto name = text.substr(0, text.find('='));
        if (!overrides.contains(std::string(name)) && name != process_marker_variable) entries.emplace_back(text);
    }
    for (const auto& [name, value] : overrides) {
        if (name != process_marker_variable) entries.push_back(name + "=" + value);
    }
    entries.push_back(marker_entry);
    return entries;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (auto& text : strings) pointers.push_back(text.data());
    pointers.push_back(nullptr);
    return pointers;
}

// Appends what fits; returns false when @p size bytes would take @p captured past the limit.
bool append_within_limit(std::string& captured, const char* data, std::size_t size) {
    if (size > program_output_limit - captured.size()) return false;
    captured.append(data, size);
    return true;
}

/// Reads both pipes until both reach end of file, the stop token turns on, or one stream goes
/// past the limit (noted in the outcome).
void drain_output(Pipe& out, Pipe& err, ProgramOutcome& outcome, const std::stop_token& stop) {
    char buffer[65536];
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
                std::string& captured = i == 0 ? outcome.stdout_text : outcome.stderr_text;
                if (!append_within_limit(captured, buffer, static_cast<std::size_t>(got))) {
                    outcome.overflowed_stream = i == 0 ? "stdout" : "stderr";
                    return;
                }
            } else if (got == 0 || errno != EINTR) {
                pipe.read_end.close();
            }
        }
    }
}

// Whether the program has exited, without reaping it: while it is an unreaped zombie its pid,
// and so its process group id, cannot be given to another process.
bool has_exited(pid_t pid) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno == EINTR) return false;
        throw std::runtime_error("waitid: " + system_error_text(errno));
    }
    return info.si_pid == pid;
}

/// Waits for the program to exit (it is not reaped); returns false if the stop token turned on first.
bool wait_for_exit(pid_t pid, const std::stop_token& stop) {
    // Usually the program is gone just after its pipes closed: start with short naps.
    auto nap = std::chrono::milliseconds{1};
    for (;;) {
        if (has_exited(pid)) return true;
        if (stop.stop_requested()) return false;
        std::this_thread::sleep_for(nap);
        nap = std::min(nap * 2, std::chrono::duration_cast<std::chrono::milliseconds>(stop_poll_interval));
    }
}

int reap(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

// Ends the program, its process group and every process that carries its marker: SIGTERM,
// then SIGKILL to whatever is left after the grace period. The program is not reaped here.
void end_everything(pid_t pid, const std::string& marker_entry) {
    ::kill(-pid, SIGTERM);
    for (const pid_t escaped : processes_marked_with(marker_entry)) ::kill(escaped, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + termination_grace;
    while (std::chrono::steady_clock::now() < deadline && !has_exited(pid)) std::this_thread::sleep_for(5ms);
    ::kill(-pid, SIGKILL);  // the group may outlive its leader
    kill_marked_processes(marker_entry);
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
    const std::string marker_entry = new_process_marker();
    std::vector<std::string> environment = merged_environment(invocation.env, marker_entry);
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
    // Noted until just before it is reaped: the group id cannot be reused before then.
    note_running_group(pid);
    // Only the child writes now; closing our copies lets the reads see end of file.
    out.write_end.close();
    err.write_end.close();

    ProgramOutcome outcome;
    drain_output(out, err, outcome, stop);
    // Once the pipes are closed the program is usually gone; if it is still running (or
    // something it started still holds the pipes), a stop or an overflow ends all of it.
    const bool pipes_held = out.read_end.is_open() || err.read_end.is_open();
    const bool must_end = !outcome.overflowed_stream.empty() || pipes_held || !wait_for_exit(pid, stop);
    if (must_end) {
        end_everything(pid, marker_entry);
        outcome.stopped = outcome.overflowed_stream.empty();
    }
    forget_running_group(pid);
    const int status = reap(pid);
    // Reaping the program let the kernel hand its orphans on; sweep once more for any of them.
    if (must_end) kill_marked_processes(marker_entry);
    if (WIFEXITED(status)) {
        outcome.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        outcome.signal = WTERMSIG(status);
        outcome.exit_code = 128 + *outcome.signal;
    }
    return outcome;
}

}  // namespace jobgraph::services
