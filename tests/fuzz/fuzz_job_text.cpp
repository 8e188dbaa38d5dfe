// Fuzzes job text: JSON parsing, reading the spec and validating it. Checks that nothing but
// the documented errors comes out, that every problem is a non-empty string, and that the
// validation of the JSON and the validation of the parsed JobSpec agree on whether the job may
// run.
#include <jobgraph/errors.hpp>
#include <jobgraph/orchestrator.hpp>
#include <jobgraph/registry.hpp>
#include <jobgraph/spec.hpp>
#include <jobgraph/validation.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using jobgraph::HandlerRegistry;
using nlohmann::json;

// Handlers are never called: validation only looks them up and checks inputs.
const HandlerRegistry& fuzz_registry() {
    static const HandlerRegistry registry = [] {
        HandlerRegistry r;
        r.add("t", "echo", [](jobgraph::TaskContext&) { return json::object(); });
        r.add("core", "echo", [](jobgraph::TaskContext&) { return json::object(); });
        r.add("t", "sleep", [](jobgraph::TaskContext&) { return json::object(); },
              {.input_check = [](const json& input) -> std::optional<std::string> {
                  if (!input.contains("ms") || !input["ms"].is_number_integer()) return "ms must be an integer";
                  return std::nullopt;
              }});
        return r;
    }();
    return registry;
}

[[noreturn]] void violated(const char* what) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
}

void check_problems(const std::vector<std::string>& problems) {
    for (const std::string& problem : problems) {
        if (problem.empty()) violated("a validation problem is an empty string");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    static const jobgraph::Orchestrator orchestrator(fuzz_registry(), {.workers = 1});

    json document;
    try {
        document = jobgraph::parse_json_text(text);
    } catch (const jobgraph::JsonSyntaxError& error) {
        if (std::string_view(error.what()).empty()) violated("JsonSyntaxError without a message");
        return 0;
    }
    const std::vector<std::string> json_problems = orchestrator.validate(document);
    check_problems(json_problems);

    std::optional<jobgraph::JobSpec> spec;
    try {
        spec = jobgraph::parse_job(text);
    } catch (const jobgraph::SpecError& error) {
        if (std::string_view(error.what()).empty()) violated("SpecError without a message");
        // A job whose shape cannot be read must not pass the JSON validation either.
        if (json_problems.empty()) violated("parse_job rejects a job that validate(json) accepts");
        return 0;
    }

    const std::vector<std::string> spec_problems = jobgraph::validate_job(*spec, fuzz_registry());
    check_problems(spec_problems);
    if (json_problems.empty() != spec_problems.empty()) {
        std::fprintf(stderr, "validate(json): %zu problems, validate_job: %zu problems\n", json_problems.size(),
                     spec_problems.size());
        for (const auto& p : json_problems) std::fprintf(stderr, "  json: %s\n", p.c_str());
        for (const auto& p : spec_problems) std::fprintf(stderr, "  spec: %s\n", p.c_str());
        violated("JSON and C++ validation disagree");
    }
    const std::vector<std::string> orchestrator_problems = orchestrator.validate(*spec);
    if (orchestrator_problems != spec_problems) violated("Orchestrator::validate(JobSpec) differs from validate_job");
    return 0;
}
