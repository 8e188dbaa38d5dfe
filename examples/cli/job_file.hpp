#pragma once
/// @file job_file.hpp
/// @brief Reading and checking a job file for `run` and `validate`: read (with limits), then
/// parse, then check, each a step of its own.

#include <jobgraph/orchestrator.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace jobgraph::cli {

/// @brief The largest job file read unless --max-file-size says otherwise: 256 MiB.
constexpr std::uint64_t default_max_job_file_size = std::uint64_t{256} << 20;

/// @brief A job file cannot be used; what() is the message for the user (it names the file),
/// details() the problems found in it, one per entry (also listed in what()).
class JobFileError : public std::runtime_error {
public:
    explicit JobFileError(const std::string& headline, std::vector<std::string> details = {});

    const std::string& headline() const noexcept { return headline_; }
    const std::vector<std::string>& details() const noexcept { return details_; }

private:
    std::string headline_;
    std::vector<std::string> details_;
};

/// @brief The whole content of the job file at @p path, read into one string of the file's
/// size. Refuses, without opening it, anything that is not a regular file (a directory, a
/// FIFO, a device such as /dev/zero), and any file larger than @p max_bytes, without reading
/// it. Throws JobFileError naming the file and the reason.
std::string read_job_file(const std::string& path, std::uint64_t max_bytes);

/// @brief Parses @p text read from @p path as JSON; malformed JSON is a JobFileError naming
/// the file, line and column.
nlohmann::json parse_job_file(const std::string& path, std::string_view text);

/// @brief Checks @p job against @p orchestrator's registry; an invalid job is a JobFileError
/// listing every problem.
void check_job_file(const std::string& path, const nlohmann::json& job, const Orchestrator& orchestrator);

/// @brief read_job_file, parse_job_file and check_job_file in turn: the job as JSON, ready to run.
nlohmann::json load_job_file(const std::string& path, const Orchestrator& orchestrator,
                             std::uint64_t max_bytes = default_max_job_file_size);

}  // namespace jobgraph::cli
