#pragma once
/// @file job_file.hpp
/// @brief Reading and checking a job file for `run` and `validate`.

#include <jobgraph/orchestrator.hpp>

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace jobgraph::cli {

/// @brief A job file cannot be used; what() is the message for the user (it names the file).
class JobFileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// @brief Reads @p path, parses it and checks it against @p orchestrator's registry. Returns
/// the job as JSON, ready to run; throws JobFileError for an unreadable file, malformed JSON
/// (with line and column) or an invalid job (every problem listed).
nlohmann::json load_job_file(const std::string& path, const Orchestrator& orchestrator);

}  // namespace jobgraph::cli
