#include "stored_job_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cli_test {

using nlohmann::json;
using namespace std::chrono_literals;

std::string job_id_of(const std::string& err) {
    const std::string prefix = "job id: ";
    const auto at = err.find(prefix);
    if (at == std::string::npos) return {};
    const auto end = err.find('\n', at);
    return err.substr(at + prefix.size(), end - at - prefix.size());
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

std::string file_or_empty(const std::filesystem::path& path) {
    return std::filesystem::exists(path) ? read_file(path) : std::string{};
}

BackgroundRun::BackgroundRun(const std::vector<std::string>& args, const std::string& name)
    : out_(scratch_path(name + ".out")), err_(scratch_path(name + ".err")) {
    std::vector<std::string> words{JOBGRAPH_CLI_PATH};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    const std::string out = out_.string();
    const std::string err = err_.string();
    const std::string tmp = scratch_directory().string();
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
        const int in_fd = ::open("/dev/null", O_RDONLY);
        const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in_fd < 0 || out_fd < 0 || err_fd < 0 || ::chdir(REPOSITORY_DIR) != 0) ::_exit(126);
        ::dup2(in_fd, STDIN_FILENO);
        ::dup2(out_fd, STDOUT_FILENO);
        ::dup2(err_fd, STDERR_FILENO);
        ::setenv("TMPDIR", tmp.c_str(), 1);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
}

BackgroundRun::~BackgroundRun() {
    if (pid_ > 0 && !exit_code_) {
        ::kill(pid_, SIGKILL);
        wait();
    }
}

void BackgroundRun::signal(int number) const {
    ::kill(pid_, number);
}

void BackgroundRun::record(int status) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool BackgroundRun::has_ended() {
    if (exit_code_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    record(status);
    return true;
}

int BackgroundRun::wait() {
    if (exit_code_) return *exit_code_;
    if (!eventually([&] { return has_ended(); }, 60s)) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        exit_code_ = -1;
    }
    return *exit_code_;
}

std::string write_slow_job(const std::filesystem::path& log, const std::filesystem::path& release) {
    const auto step = [&](const std::string& id, const std::string& script, json depends_on) {
        return json{
            {"id", id},
            {"service", "shell"},
            {"command", "run"},
            {"dependsOn", std::move(depends_on)},
            {"input",
             {{"argv", {"sh", "-c", script}}, {"env", {{"LOG", log.string()}, {"RELEASE", release.string()}}}}}};
    };
    const json job = {{"name", "slow"},
                      {"tasks",
                       {step("quick", "echo quick >> \"$LOG\"", json::array()),
                        step("slow",
                             "echo slow >> \"$LOG\"; [ $(grep -c slow \"$LOG\") -ge 2 ] && exit 0; "
                             "i=0; while [ ! -e \"$RELEASE\" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done",
                             {"quick"})}}};
    const auto path = scratch_path("slow.json");
    std::ofstream(path) << job.dump();
    return path.string();
}

std::string killed_mid_run(const std::string& store, const std::filesystem::path& log) {
    const auto job = write_slow_job(log, scratch_path("never-released"));
    BackgroundRun runner({"run", job, "--store", store, "--quiet"}, "killed");
    REQUIRE(eventually([&] { return contains(file_or_empty(log), "slow"); }));
    runner.signal(SIGKILL);
    REQUIRE(runner.wait() == 128 + SIGKILL);
    const std::string id = job_id_of(runner.err());
    REQUIRE_FALSE(id.empty());
    return id;
}

}  // namespace cli_test
