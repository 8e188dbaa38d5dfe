#include "job_file.hpp"

#include <jobgraph/errors.hpp>
#include <jobgraph/spec.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jobgraph::cli {
namespace {

std::string joined(const std::string& headline, const std::vector<std::string>& details) {
    std::string text = headline;
    for (const auto& detail : details) text += "\n  - " + detail;
    return text;
}

std::string_view kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

[[noreturn]] void refuse(const std::string& path, std::string_view reason) {
    throw JobFileError(fmt::format("{}: cannot read the job file: {}", path, reason));
}

[[noreturn]] void refuse_kind(const std::string& path, mode_t mode) {
    refuse(path, fmt::format("it is {}, not a regular file", kind_of(mode)));
}

[[noreturn]] void refuse_size(const std::string& path, std::string_view size, std::uint64_t max_bytes) {
    refuse(path, fmt::format("it is {}, over the limit of {} bytes (--max-file-size)", size, max_bytes));
}

class FileDescriptor {
public:
    explicit FileDescriptor(int fd) : fd_(fd) {}
    ~FileDescriptor() { ::close(fd_); }
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

}  // namespace

JobFileError::JobFileError(const std::string& headline, std::vector<std::string> details)
    : std::runtime_error(joined(headline, details)), headline_(headline), details_(std::move(details)) {}

std::string read_job_file(const std::string& path, std::uint64_t max_bytes) {
    // stat before open: opening a FIFO that has no writer would block, and /dev/zero never ends.
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) refuse(path, std::strerror(errno));
    if (!S_ISREG(info.st_mode)) refuse_kind(path, info.st_mode);
    auto size = static_cast<std::uint64_t>(info.st_size);
    if (size > max_bytes) refuse_size(path, fmt::format("{} bytes", size), max_bytes);

    // O_NONBLOCK: should the path be swapped for a FIFO after the stat, open still returns and
    // the fstat below refuses it.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) refuse(path, std::strerror(errno));
    const FileDescriptor file(fd);
    if (::fstat(fd, &info) != 0) refuse(path, std::strerror(errno));
    if (!S_ISREG(info.st_mode)) refuse_kind(path, info.st_mode);
    size = static_cast<std::uint64_t>(info.st_size);
    if (size > max_bytes) refuse_size(path, fmt::format("{} bytes", size), max_bytes);

    // One allocation of the file's size (and a byte to notice growth); the parser reads from it.
    std::string text(static_cast<std::size_t>(size) + 1, '\0');
    std::size_t filled = 0;
    for (;;) {
        if (filled == text.size()) {
            // The file grew after the stat: keep going, but never past the limit.
            if (filled > max_bytes) refuse_size(path, fmt::format("more than {} bytes", max_bytes), max_bytes);
            text.resize(std::min<std::uint64_t>(filled + (std::size_t{1} << 16), max_bytes) + 1);
        }
        const ssize_t got = ::read(fd, text.data() + filled, text.size() - filled);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) refuse(path, std::strerror(errno));
        if (got == 0) break;
        filled += static_cast<std::size_t>(got);
    }
    if (filled > max_bytes) refuse_size(path, fmt::format("more than {} bytes", max_bytes), max_bytes);
    text.resize(filled);
    return text;
}

nlohmann::json parse_job_file(const std::string& path, std::string_view text) {
    try {
        return parse_json_text(text);
    } catch (const JsonSyntaxError& error) {
        throw JobFileError(fmt::format("{}:{}:{}: {}", path, error.line(), error.column(), error.what()));
    }
}

void check_job_file(const std::string& path, const nlohmann::json& job, const Orchestrator& orchestrator) {
    auto problems = orchestrator.validate(job);
    if (problems.empty()) return;
    const std::size_t count = problems.size();
    throw JobFileError(fmt::format("{}: invalid job ({} problem{}):", path, count, count == 1 ? "" : "s"),
                       std::move(problems));
}

nlohmann::json load_job_file(const std::string& path, const Orchestrator& orchestrator, std::uint64_t max_bytes) {
    nlohmann::json job = parse_job_file(path, read_job_file(path, max_bytes));
    check_job_file(path, job, orchestrator);
    return job;
}

}  // namespace jobgraph::cli
