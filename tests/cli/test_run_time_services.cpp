// Services that decide at run time, through the binary: a script's stdout read as its task's
// result, and llm/chat planning against the test server (tests/support/test_server.py).

#include "cli_harness.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>

#ifdef JOBGRAPH_WITH_CURL
#include "test_server.hpp"
#endif

using namespace cli_test;
using nlohmann::json;

namespace {

/// Sets an environment variable (inherited by the runner) for the life of the object.
class ScopedEnvironment {
public:
    ScopedEnvironment(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
        if (const char* old = std::getenv(name_.c_str())) old_ = old;
        apply(value);
    }
    ScopedEnvironment(const ScopedEnvironment&) = delete;
    ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;
    ~ScopedEnvironment() { apply(old_); }

private:
    void apply(const std::optional<std::string>& value) {
        if (value) {
            ::setenv(name_.c_str(), value->c_str(), 1);
        } else {
            ::unsetenv(name_.c_str());
        }
    }
    std::string name_;
    std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("shell/run with stdout json spawns what the script prints", "[cli][services][shell]") {
    CliRun run;
    const auto result = run_job_for_result(fixture_job("shell-json.json"), &run);
    CHECK(run.exit_code == 1);
    const auto discover = task_of(result, "discover");
    CHECK(discover.at("status") == "succeeded");
    CHECK(discover.at("output") == json{{"found", 2}});
    CHECK(discover.at("children") == json{"part-1", "part-2"});
    CHECK(task_of(result, "part-2").at("output") == json{{"part", 2}});
    const auto broken = task_of(result, "broken");
    CHECK(broken.at("status") == "failed");
    CHECK(broken.at("output").at("error").get<std::string>().rfind(
              "the stdout of sh is not JSON: malformed JSON at line 2, column 14: ", 0) == 0);
    CHECK(result.at("stats").at("total") == 4);
}

#ifdef JOBGRAPH_WITH_CURL
TEST_CASE("llm/chat plans through the runner: its side effects wait for approval", "[cli][services][llm]") {
    const ScopedEnvironment endpoint("JOBGRAPH_LLM_BASE_URL", jobgraph::testing::server_url("/v1"));
    CliRun run;
    const auto result = run_job_for_result(fixture_job("llm-plan.json"), &run);
    CHECK(run.exit_code == 3);
    CHECK(result.at("status") == "awaiting_approval");
    CHECK(task_of(result, "plan").at("output") == json{{"summary", "collect, then publish"}});
    CHECK(task_of(result, "collect").at("status") == "succeeded");
    CHECK(task_of(result, "publish").at("status") == "planned");
}

TEST_CASE("llm/chat without an endpoint fails, saying how to set one", "[cli][services][llm]") {
    const ScopedEnvironment own("JOBGRAPH_LLM_BASE_URL", std::nullopt);
    const ScopedEnvironment openai("OPENAI_BASE_URL", std::nullopt);
    CliRun run;
    const auto result = run_job_for_result(fixture_job("llm-plan.json"), &run);
    CHECK(run.exit_code == 1);
    CHECK(task_of(result, "plan")
              .at("output")
              .at("error")
              .get<std::string>()
              .rfind("llm/chat has no model endpoint: set \"baseUrl\" in the task's input, or the environment variable "
                     "JOBGRAPH_LLM_BASE_URL",
                     0) == 0);
}
#endif
