#include "job_file.hpp"

#include <jobgraph/errors.hpp>
#include <jobgraph/spec.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace jobgraph::cli {

nlohmann::json load_job_file(const std::string& path, const Orchestrator& orchestrator) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw JobFileError(fmt::format("{}: cannot read the job file: {}", path, std::strerror(errno)));
    std::ostringstream text;
    text << file.rdbuf();

    nlohmann::json job;
    try {
        job = parse_json_text(text.str());
    } catch (const JsonSyntaxError& error) {
        throw JobFileError(fmt::format("{}:{}:{}: {}", path, error.line(), error.column(), error.what()));
    }

    const auto problems = orchestrator.validate(job);
    if (!problems.empty()) {
        std::string message = fmt::format("{}: invalid job ({} problem{}):", path, problems.size(),
                                          problems.size() == 1 ? "" : "s");
        for (const auto& problem : problems) message += "\n  - " + problem;
        throw JobFileError(message);
    }
    return job;
}

}  // namespace jobgraph::cli
