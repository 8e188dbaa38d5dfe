// llm/chat against the test server's chat-completions endpoint.

#include "services/http_client.hpp"
#include "services_helpers.hpp"
#include "test_server.hpp"

#include <fmt/format.h>

using namespace jobgraph;
using namespace jobgraph::testing;

namespace {

json chat(std::string id, json input) {
    return json{{"id", std::move(id)}, {"service", "llm"}, {"command", "chat"}, {"input", std::move(input)}};
}

std::string endpoint() {
    return server_url("/v1");
}

// What the server received from the last chat that named this model.
json recorded(const std::string& model) {
    services::HttpRequest request;
    request.url = server_url("/recorded/" + model);
    return json::parse(services::perform_http(request, std::stop_token{}).body);
}

}  // namespace

TEST_CASE("llm/chat sends the conversation and returns content, model and usage", "[services][llm]") {
    const ScopedEnvironment key("OPENAI_API_KEY", "sk-test-123");
    SECTION("a prompt, with a system message and a temperature") {
        const auto result = run_job(job_of(json::array({chat("ask", {{"model", "probe-prompt"},
                                                                     {"system", "Answer briefly."},
                                                                     {"prompt", "Name a river in Lyon."},
                                                                     {"temperature", 0.5},
                                                                     {"baseUrl", endpoint()}})})));
        REQUIRE(result.status == JobStatus::succeeded);
        CHECK(result.at("ask").output ==
              json{{"content", "You said: Name a river in Lyon."},
                   {"model", "probe-prompt"},
                   {"usage", {{"prompt_tokens", 12}, {"completion_tokens", 5}, {"total_tokens", 17}}}});
        const json sent = recorded("probe-prompt");
        CHECK(sent.at("request").at("messages") ==
              json::array({{{"role", "system"}, {"content", "Answer briefly."}},
                           {{"role", "user"}, {"content", "Name a river in Lyon."}}}));
        CHECK(sent.at("request").at("temperature") == 0.5);
        CHECK(sent.at("request").at("stream") == false);
        CHECK_FALSE(sent.at("request").contains("response_format"));
        CHECK(sent.at("headers").at("authorization") == "Bearer sk-test-123");
        CHECK(sent.at("headers").at("content-type") == "application/json");
    }
    SECTION("messages, as given") {
        const json messages = json::array({{{"role", "user"}, {"content", "Hi"}},
                                           {{"role", "assistant"}, {"content", "Hello."}},
                                           {{"role", "user"}, {"content", "Count to two."}}});
        const auto result = run_job(job_of(json::array(
            {chat("ask", {{"model", "probe-messages"}, {"messages", messages}, {"baseUrl", endpoint() + "/"}})})));
        REQUIRE(result.status == JobStatus::succeeded);
        CHECK(result.at("ask").output.at("content") == "You said: Count to two.");
        CHECK(recorded("probe-messages").at("request").at("messages") == messages);
    }
}

TEST_CASE("llm/chat finds its endpoint in the environment, or says how to set one", "[services][llm]") {
    const ScopedEnvironment key("OPENAI_API_KEY", std::nullopt);
    SECTION("JOBGRAPH_LLM_BASE_URL comes first") {
        const ScopedEnvironment own("JOBGRAPH_LLM_BASE_URL", endpoint());
        const ScopedEnvironment openai("OPENAI_BASE_URL", "http://127.0.0.1:1/v1");
        const auto result = run_job(job_of(json::array({chat("ask", {{"model", "probe-env"}, {"prompt", "ping"}})})));
        CHECK(result.at("ask").status == TaskStatus::succeeded);
        CHECK_FALSE(recorded("probe-env").at("headers").contains("authorization"));
    }
    SECTION("then OPENAI_BASE_URL") {
        const ScopedEnvironment own("JOBGRAPH_LLM_BASE_URL", std::nullopt);
        const ScopedEnvironment openai("OPENAI_BASE_URL", endpoint());
        const auto result = run_job(job_of(json::array({chat("ask", {{"prompt", "ping"}})})));
        CHECK(result.at("ask").status == TaskStatus::succeeded);
        CHECK(result.at("ask").output.at("content") == "You said: ping");
    }
    SECTION("none: the task fails, saying how to set one") {
        const ScopedEnvironment own("JOBGRAPH_LLM_BASE_URL", std::nullopt);
        const ScopedEnvironment openai("OPENAI_BASE_URL", std::nullopt);
        const auto result = run_job(job_of(json::array({chat("ask", {{"prompt", "ping"}})})));
        CHECK(result.at("ask").status == TaskStatus::failed);
        CHECK(error_of(result.at("ask")) ==
              "llm/chat has no model endpoint: set \"baseUrl\" in the task's input, or the environment variable "
              "JOBGRAPH_LLM_BASE_URL (or OPENAI_BASE_URL), to an OpenAI-compatible API such as "
              "http://localhost:11434/v1 (Ollama) or https://api.openai.com/v1; put the key, if one is needed, in "
              "OPENAI_API_KEY");
    }
}

TEST_CASE("llm/chat with plan: the model's childTasks are spawned", "[services][llm][plan]") {
    SECTION("the request asks for JSON and lists the services with their examples") {
        const auto result = run_job(job_of(json::array({chat(
            "plan",
            {{"model", "probe-plan"}, {"prompt", "PLAN-VALID please"}, {"plan", true}, {"baseUrl", endpoint()}})})));
        REQUIRE(result.status == JobStatus::succeeded);
        const auto& plan = result.at("plan");
        CHECK(plan.output == json{{"summary", "collect, then publish"}});
        CHECK(plan.children == std::vector<std::string>{"collect", "publish"});
        CHECK(plan.trace.at("model") == "probe-plan");
        CHECK(plan.trace.at("usage").at("total_tokens") == 17);
        CHECK(result.at("collect").output == json{{"step", "collect"}});
        CHECK(result.at("publish").status == TaskStatus::succeeded);
        CHECK(result.at("publish").depends_on == std::vector<std::string>{"collect"});

        const json sent = recorded("probe-plan").at("request");
        CHECK(sent.at("response_format") == json{{"type", "json_object"}});
        const auto& messages = sent.at("messages");
        REQUIRE(messages.size() == 2);
        CHECK(messages[0].at("role") == "system");
        const std::string instructions = messages[0].at("content");
        for (const char* line : {"- core/echo: returns its input as its output", "- shell/run: runs",
                                 R"(Example input: {"argv": ["ls", "-l"])", "- http/request: ", "- llm/chat: "}) {
            INFO(line);
            CHECK(instructions.find(line) != std::string::npos);
        }
        CHECK(messages[1] == json{{"role", "user"}, {"content", "PLAN-VALID please"}});
    }
    SECTION("in plan mode the children with side effects are planned, not run") {
        const auto result = run_job(
            job_of(json::array({chat("plan", {{"prompt", "PLAN-VALID"}, {"plan", true}, {"baseUrl", endpoint()}})}),
                   {{"requireApproval", true}}));
        CHECK(result.status == JobStatus::awaiting_approval);
        CHECK(result.at("plan").status == TaskStatus::succeeded);
        CHECK(result.at("collect").status == TaskStatus::succeeded);
        CHECK(result.at("publish").status == TaskStatus::planned);
    }
    SECTION("an invalid plan fails the task and adds nothing") {
        const auto result = run_job(
            job_of(json::array({chat("plan", {{"prompt", "PLAN-INVALID"}, {"plan", true}, {"baseUrl", endpoint()}})})));
        CHECK(result.status == JobStatus::failed);
        CHECK(result.at("plan").status == TaskStatus::failed);
        CHECK(error_of(result.at("plan")) ==
              "Child task validation failed for parent plan:\nInvalid service/command combination: teleport/now");
        CHECK(result.at("plan").children.empty());
        CHECK(result.stats.total == 1);
    }
    SECTION("prose instead of a JSON plan fails the task, naming line and column") {
        const auto result = run_job(job_of(json::array(
            {chat("plan", {{"model", "chatty"}, {"prompt", "PLAN-PROSE"}, {"plan", true}, {"baseUrl", endpoint()}})})));
        CHECK(result.at("plan").status == TaskStatus::failed);
        CHECK(error_of(result.at("plan"))
                  .rfind("the plan from chatty is not JSON: malformed JSON at line 1, column 1: ", 0) == 0);
        CHECK(result.stats.total == 1);
    }
}

TEST_CASE("llm/chat fails clearly on a reply without content, and stops when the job stops", "[services][llm]") {
    SECTION("no choices") {
        const auto result = run_job(
            job_of(json::array({chat("ask", {{"model", "m"}, {"prompt", "NO-CHOICES"}, {"baseUrl", endpoint()}})})));
        CHECK(error_of(result.at("ask")) ==
              fmt::format("the reply from POST {}/chat/completions has no choices[0].message.content: "
                          "{{\"id\":\"chat-1\",\"model\":\"m\",\"object\":\"chat.completion\"}}",
                          endpoint()));
    }
    SECTION("a stop request abandons a slow model at once") {
        const auto timed = run_timed(
            job_of(json::array({chat("ask", {{"prompt", "SLOW"}, {"baseUrl", endpoint()}})}), {{"timeout", 300}}));
        CHECK(timed.result.at("ask").status == TaskStatus::aborted);
        CHECK(timed.seconds < 3);
    }
    SECTION("the endpoint's failure status") {
        const auto result =
            run_job(job_of(json::array({chat("ask", {{"prompt", "hi"}, {"baseUrl", server_url("/status/503")}})})));
        CHECK(error_of(result.at("ask")) ==
              fmt::format("POST {}/chat/completions answered status 503: {{\"error\": \"status 503\"}}",
                          server_url("/status/503")));
    }
}

TEST_CASE("llm/chat checks its input before anything runs", "[services][llm][validation]") {
    const auto problem_with = [](json input) {
        const auto result = run_job(job_of(json::array({chat("ask", std::move(input))})));
        REQUIRE(result.error_message);
        CHECK(result.tasks.empty());
        return *result.error_message;
    };
    const auto contains = [](const std::string& text, const std::string& part) {
        INFO(text);
        return text.find(part) != std::string::npos;
    };
    CHECK(contains(problem_with(json::object()), "give either \"prompt\""));
    CHECK(contains(problem_with({{"prompt", "a"}, {"messages", json::array()}}), "give either \"prompt\""));
    CHECK(contains(problem_with({{"messages", {{{"content", "no role"}}}}}), "each message must be"));
    CHECK(contains(problem_with({{"prompt", "a"}, {"plan", "yes"}}), "\"plan\" must be true or false"));
    CHECK(contains(problem_with({{"prompt", "a"}, {"baseUrl", "localhost:8000"}}), "\"baseUrl\" must be a URL"));
    CHECK(contains(problem_with({{"prompt", "a"}, {"temperature", "hot"}}), "\"temperature\" must be a number"));
}
