#pragma once
// A job that passed validation, with what the run needs already worked out: ids, handlers and
// the initial graph. Validation and the run share it so the graph is built only once.

#include "jobgraph/registry.hpp"
#include "jobgraph/spec.hpp"
#include "graph/task_graph.hpp"

#include <optional>
#include <string>
#include <vector>

namespace jobgraph::detail {

struct PreparedJob {
    JobSpec spec;                               // as given: a null input stands for an empty object
    std::vector<std::string> ids;               // resolved id of each root, by position
    std::vector<const HandlerEntry*> handlers;  // handler of each root, by position
    TaskGraph graph;                            // the roots and their waits
};

struct Preparation {
    std::vector<std::string> problems;  // empty when job holds a value
    std::optional<PreparedJob> job;
};

/// Validates @p spec (docs/semantics.md) and, if it is sound, prepares it to run.
/// @p problems holds problems found earlier (of JSON shape) and is reported with the rest.
Preparation prepare_job(JobSpec spec, const HandlerRegistry& registry, std::vector<std::string> problems = {});

/// The problems prepare_job would find, without copying @p spec.
std::vector<std::string> validation_problems(const JobSpec& spec, const HandlerRegistry& registry);

/// The input check of @p entry applied to @p input; nullopt when it passes.
std::optional<std::string> check_input(const HandlerEntry& entry, const nlohmann::json& input);

}  // namespace jobgraph::detail
