// http/request against the test server on 127.0.0.1.

#include "services/http_client.hpp"
#include "services_helpers.hpp"
#include "test_server.hpp"

#include <jobgraph/errors.hpp>

#include <fmt/format.h>

#include <atomic>

using namespace jobgraph;
using namespace jobgraph::testing;

namespace {

json http(std::string id, json input) {
    return json{{"id", std::move(id)}, {"service", "http"}, {"command", "request"}, {"input", std::move(input)}};
}

JobResult run_one(json input) {
    return run_job(job_of(json::array({http("call", std::move(input))})));
}

// A key no other test (or earlier run against the same server) has used.
std::string unique_key(const std::string& name) {
    static std::atomic<int> next{0};
    return name + "-" + std::to_string(::getpid()) + "-" + std::to_string(next++);
}

}  // namespace

TEST_CASE("http/request sends method, headers and body, and returns status, headers and body", "[services][http]") {
    SECTION("GET with headers; a JSON reply comes back parsed under \"json\"") {
        const auto result = run_one({{"url", server_url("/echo?page=2")}, {"headers", {{"X-Request-Id", "r-17"}}}});
        REQUIRE(result.status == JobStatus::succeeded);
        const json& output = result.at("call").output;
        CHECK(output.at("status") == 200);
        CHECK(output.at("headers").at("x-test-server") == "jobgraph");
        CHECK(output.at("headers").at("content-type") == "application/json");
        CHECK_FALSE(output.contains("body"));
        const json& echoed = output.at("json");
        CHECK(echoed.at("method") == "GET");
        CHECK(echoed.at("query") == json{{"page", "2"}});
        CHECK(echoed.at("headers").at("x-request-id") == "r-17");
        CHECK(echoed.at("body") == "");
    }
    SECTION("\"json\": sent as JSON with POST unless a method is given") {
        const json order{{"item", "crêpe"}, {"count", 2}};
        const auto result = run_one({{"url", server_url("/echo")}, {"json", order}});
        const json& echoed = result.at("call").output.at("json");
        CHECK(echoed.at("method") == "POST");
        CHECK(echoed.at("headers").at("content-type") == "application/json");
        CHECK(echoed.at("json") == order);
    }
    SECTION("\"body\": sent as text with the given method and content type") {
        const auto result = run_one({{"method", "PUT"},
                                     {"url", server_url("/echo")},
                                     {"headers", {{"Content-Type", "text/csv"}}},
                                     {"body", "id,name\n1,Ada\n"}});
        const json& echoed = result.at("call").output.at("json");
        CHECK(echoed.at("method") == "PUT");
        CHECK(echoed.at("headers").at("content-type") == "text/csv");
        CHECK(echoed.at("body") == "id,name\n1,Ada\n");
    }
    SECTION("a reply that is not JSON comes back as text under \"body\"") {
        const auto result = run_one({{"url", server_url("/text")}});
        const json& output = result.at("call").output;
        CHECK(output.at("status") == 200);
        CHECK(output.at("body") == "plain text\n");
        CHECK_FALSE(output.contains("json"));
    }
}

TEST_CASE("http/request fails on 429, 5xx and other 4xx, naming the status and the body", "[services][http]") {
    for (const int status : {429, 500, 503, 404, 400, 401}) {
        const std::string url = server_url("/status/" + std::to_string(status));
        const auto result = run_one({{"url", url}});
        CHECK(result.at("call").status == TaskStatus::failed);
        CHECK(error_of(result.at("call")) ==
              fmt::format("GET {} answered status {}: {{\"error\": \"status {}\"}}", url, status, status));
    }
}

TEST_CASE("429 and 5xx are retryable failures, other 4xx are not", "[services][http][retry]") {
    const auto failure_for = [](int status) {
        services::HttpRequest request;
        request.url = server_url("/status/" + std::to_string(status));
        const auto response = services::perform_http(request, std::stop_token{});
        REQUIRE(response.status == status);
        try {
            services::throw_for_failed_status(request, response);
        } catch (const NonRetryableError&) {
            return std::string("not retryable");
        } catch (const std::runtime_error&) {
            return std::string("retryable");
        }
        return std::string("no failure");
    };
    CHECK(failure_for(200) == "no failure");
    CHECK(failure_for(302) == "no failure");
    CHECK(failure_for(429) == "retryable");
    CHECK(failure_for(500) == "retryable");
    CHECK(failure_for(502) == "retryable");
    CHECK(failure_for(400) == "not retryable");
    CHECK(failure_for(404) == "not retryable");
    CHECK(failure_for(422) == "not retryable");
}

TEST_CASE("a service that answers 429 and then succeeds: the task's retry gets through", "[services][http][retry]") {
    const std::string url = server_url("/flaky/" + unique_key("quota") + "?fail=2");
    json call = http("call", {{"url", url}});
    call["retry"] = {{"maxAttempts", 4}, {"delay", 20}, {"backoff", 2}, {"jitter", false}};
    const auto result = run_job(job_of(json::array({call})));
    const TaskRecord& task = result.at("call");
    REQUIRE(task.status == TaskStatus::succeeded);
    CHECK(task.attempts == 3);
    CHECK(task.output.at("json") == json{{"attempt", 3}});
    const std::string answer = fmt::format("GET {} answered status 429: {{\"error\": \"slow down\"}}", url);
    std::vector<std::string> retries;
    for (const auto& entry : task.history) {
        if (entry.status == TaskStatus::retrying) retries.push_back(entry.reason);
    }
    CHECK(retries == std::vector<std::string>{fmt::format("Attempt 1 of 4 failed: {}; next attempt in 20 ms", answer),
                                              fmt::format("Attempt 2 of 4 failed: {}; next attempt in 40 ms", answer)});
}

TEST_CASE("a 4xx other than 429 is not retried, whatever the task's retry allows", "[services][http][retry]") {
    json call = http("call", {{"url", server_url("/status/404")}});
    call["retry"] = {{"maxAttempts", 4}, {"delay", 10}};
    const auto result = run_job(job_of(json::array({call})));
    CHECK(result.at("call").status == TaskStatus::failed);
    CHECK(result.at("call").attempts == 1);
}

TEST_CASE("http/request fails on a malformed JSON body, naming line and column", "[services][http]") {
    const std::string url = server_url("/malformed");
    const auto result = run_one({{"url", url}});
    CHECK(result.at("call").status == TaskStatus::failed);
    CHECK(error_of(result.at("call"))
              .rfind(fmt::format("the body from GET {} is not JSON: malformed JSON at line 2, column 17: ", url), 0) ==
          0);
}

TEST_CASE("http/request gives up at its timeout, and at once when the job stops", "[services][http][stop]") {
    SECTION("\"timeout\"") {
        const std::string url = server_url("/slow?ms=5000");
        const auto timed = run_timed(job_of(json::array({http("call", {{"url", url}, {"timeout", 200}})})));
        CHECK(timed.result.at("call").status == TaskStatus::failed);
        CHECK(error_of(timed.result.at("call")) == fmt::format("GET {}: no complete response within 200 ms", url));
        CHECK(timed.seconds < 3);
    }
    SECTION("the job's timeout stops the transfer: the task ends aborted") {
        const std::string url = server_url("/slow?ms=10000");
        const auto timed = run_timed(job_of(json::array({http("call", {{"url", url}})}), {{"timeout", 300}}));
        CHECK(timed.result.at("call").status == TaskStatus::aborted);
        CHECK(error_of(timed.result.at("call")) == fmt::format("Stopped on request: GET {} was abandoned", url));
        CHECK(timed.seconds < 3);
    }
}

TEST_CASE("http/request with result body: the remote service's JSON is the task's result", "[services][http]") {
    const json answer{
        {"childTasks", {{{"id", "resize"}, {"service", "core"}, {"command", "echo"}, {"input", {{"width", 640}}}}}},
        {"output", {{"accepted", true}}}};
    SECTION("its childTasks are spawned") {
        const auto result = run_one({{"url", server_url("/reply")}, {"json", answer}, {"result", "body"}});
        REQUIRE(result.status == JobStatus::succeeded);
        CHECK(result.at("call").output == json{{"accepted", true}});
        CHECK(result.at("call").children == std::vector<std::string>{"resize"});
        CHECK(result.at("resize").output == json{{"width", 640}});
    }
    SECTION("a body that is not an object fails the task") {
        const auto result = run_one({{"url", server_url("/reply")}, {"json", json::array({1})}, {"result", "body"}});
        CHECK(error_of(result.at("call")) ==
              fmt::format("the body from POST {} must be a JSON object (the task's result), got array",
                          server_url("/reply")));
    }
}

TEST_CASE("http/request fails when nothing answers", "[services][http]") {
    // Port 1 on the loopback interface: nothing listens there, the connection is refused.
    const auto result = run_one({{"url", "http://127.0.0.1:1/health"}});
    CHECK(result.at("call").status == TaskStatus::failed);
    CHECK(error_of(result.at("call")).rfind("GET http://127.0.0.1:1/health: ", 0) == 0);
}

TEST_CASE("http/request checks its input before anything runs", "[services][http][validation]") {
    const auto problem_with = [](json input) {
        const auto result = run_one(std::move(input));
        REQUIRE(result.error_message);
        CHECK(result.tasks.empty());
        return *result.error_message;
    };
    const auto contains = [](const std::string& text, const std::string& part) {
        INFO(text);
        return text.find(part) != std::string::npos;
    };
    CHECK(contains(problem_with({{"method", "GET"}}), "\"url\" is required"));
    CHECK(contains(problem_with({{"url", "file:///etc/passwd"}}), "\"url\" must start with http:// or https://"));
    CHECK(contains(problem_with({{"url", "http://x"}, {"method", "get"}}),
                   "\"method\" must be an upper-case HTTP method"));
    CHECK(contains(problem_with({{"url", "http://x"}, {"json", 1}, {"body", "a"}}),
                   "give \"json\" or \"body\", not both"));
    CHECK(contains(problem_with({{"url", "http://x"}, {"headers", {{"X-A", 1}}}}),
                   "\"headers\".X-A must be a one-line string"));
    CHECK(contains(problem_with({{"url", "http://x"}, {"headers", {{"X-A", "a\r\nX-B: b"}}}}),
                   "must be a one-line string"));
    CHECK(contains(problem_with({{"url", "http://x"}, {"result", "xml"}}), "\"result\" must be \"response\""));
    CHECK(contains(problem_with({{"url", "http://x"}, {"timeout", -1}}), "\"timeout\" must be a non-negative integer"));
}
