#include "services/process_sweep.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include <signal.h>
#include <unistd.h>

namespace jobgraph::services {

std::string new_process_marker() {
    static std::atomic<unsigned long long> next{0};
    const auto started = std::chrono::steady_clock::now().time_since_epoch().count();
    return fmt::format("{}={}.{}.{}", process_marker_variable, ::getpid(), started, next++);
}

std::vector<pid_t> processes_marked_with(std::string_view marker_entry) {
    std::vector<pid_t> marked;
    std::error_code error;
    std::filesystem::directory_iterator entries("/proc", error);
    if (error) return marked;
    const pid_t self = ::getpid();
    for (const auto& entry : entries) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || !std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); })) {
            continue;
        }
        const pid_t pid = static_cast<pid_t>(std::stol(name));
        if (pid == self) continue;
        // Unreadable (another user's process) or empty (a zombie, or gone meanwhile): not ours.
        std::ifstream file(entry.path() / "environ", std::ios::binary);
        if (!file) continue;
        const std::string environment{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
        std::string_view rest = environment;
        while (!rest.empty()) {
            const std::size_t end = rest.find('\0');
            if (rest.substr(0, end) == marker_entry) {
                marked.push_back(pid);
                break;
            }
            if (end == std::string_view::npos) break;
            rest.remove_prefix(end + 1);
        }
    }
    return marked;
}

void kill_marked_processes(std::string_view marker_entry) {
    using namespace std::chrono_literals;
    const auto give_up = std::chrono::steady_clock::now() + 1s;
    for (;;) {
        const auto marked = processes_marked_with(marker_entry);
        if (marked.empty() || std::chrono::steady_clock::now() > give_up) return;
        for (const pid_t pid : marked) ::kill(pid, SIGKILL);
        // A killed process is a zombie (its environment reads empty) as soon as it is gone.
        std::this_thread::sleep_for(2ms);
    }
}

}  // namespace jobgraph::services
