#pragma once
// What the tests of stored jobs share: the runner in the background, waiting for a condition,
// a job that waits to be released, and a job whose runner was killed mid-run.

#include "cli_harness.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace cli_test {

/// @brief The id from the "job id: <id>" line that run --store prints on stderr, or "".
std::string job_id_of(const std::string& err);

bool contains(const std::string& text, const std::string& part);

/// @brief Polls @p done every 20 ms for up to @p limit; true once it holds.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(20));

/// @brief The file's content, or "" if it does not exist (yet).
std::string file_or_empty(const std::filesystem::path& path);

/// @brief The runner started in the background, its stdout and stderr going to files.
class BackgroundRun {
public:
    BackgroundRun(const std::vector<std::string>& args, const std::string& name);
    ~BackgroundRun();
    BackgroundRun(const BackgroundRun&) = delete;
    BackgroundRun& operator=(const BackgroundRun&) = delete;

    pid_t pid() const { return pid_; }
    void signal(int number) const;
    std::string out() const { return read_file(out_); }
    std::string err() const { return read_file(err_); }

    /// @brief The exit status; 128 + N when signal N ended it; -1 if it had not ended within
    /// 60 s (then killed).
    int wait();
    /// @brief Whether it has ended, without waiting (its exit status is then kept for wait()).
    bool has_ended();

private:
    void record(int status);

    std::filesystem::path out_;
    std::filesystem::path err_;
    pid_t pid_ = -1;
    std::optional<int> exit_code_;
};

/// @brief A job of two shell steps: "quick" logs a line; "slow" (after it) logs a line and then
/// waits for @p release to exist, up to 30 s, unless it has run before. Each run of a step is
/// logged in @p log. Returns the job file's path.
std::string write_slow_job(const std::filesystem::path& log, const std::filesystem::path& release);

/// @brief A job stored in @p store whose runner was killed with SIGKILL while "slow" ran:
/// unfinished, held by no live process. Returns its id.
std::string killed_mid_run(const std::string& store, const std::filesystem::path& log);

}  // namespace cli_test
