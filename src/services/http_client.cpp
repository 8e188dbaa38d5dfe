#include "services/http_client.hpp"

#include "services/curl_handles.hpp"
#include "services/text_utils.hpp"

#include <jobgraph/errors.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stop_token>

namespace jobgraph::services {
namespace {

// How long one wait for network activity may last before the loop looks around again; a stop
// request wakes it at once, so this only bounds the cost of a missed wake-up.
constexpr int poll_interval_ms = 1000;

std::string lower_case(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    return lower;
}

std::string_view trimmed(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    return text;
}

/// Where libcurl's callbacks put what arrives.
struct Reception {
    HttpResponse response;
    bool body_too_large = false;
};

std::size_t receive_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto& reception = *static_cast<Reception*>(user);
    const std::size_t bytes = size * count;
    if (bytes > http_body_limit - reception.response.body.size()) {
        reception.body_too_large = true;
        return 0;  // makes libcurl end the transfer with CURLE_WRITE_ERROR
    }
    reception.response.body.append(data, bytes);
    return bytes;
}

std::size_t receive_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto& reception = *static_cast<Reception*>(user);
    const std::size_t bytes = size * count;
    const std::string_view line(data, bytes);
    if (line.starts_with("HTTP/")) {
        reception.response.headers.clear();  // a new response (after a redirect or a 100 Continue)
    } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
        reception.response.headers.emplace_back(lower_case(trimmed(line.substr(0, colon))),
                                                valid_utf8(trimmed(line.substr(colon + 1))));
    }
    return bytes;
}

std::string describe(const HttpRequest& request) {
    return fmt::format("{} {}", request.method, request.url);
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view lower_case_name) const {
    std::optional<std::string> joined;
    for (const auto& [name, value] : headers) {
        if (name != lower_case_name) continue;
        joined = joined ? *joined + ", " + value : value;
    }
    return joined;
}

bool HttpResponse::is_json() const {
    const std::string type = lower_case(header("content-type").value_or(""));
    const std::string_view media = trimmed(std::string_view(type).substr(0, type.find(';')));
    return media == "application/json" || media.ends_with("+json");
}

HttpResponse perform_http(const HttpRequest& request, const std::stop_token& stop) {
    CurlEasy easy;
    Reception reception;
    char error_text[CURL_ERROR_SIZE] = "";

    easy.set(CURLOPT_URL, request.url.c_str(), "URL");
    // Only the web: a job file must not be able to read file:// or talk to other protocols.
    easy.set(CURLOPT_PROTOCOLS_STR, "http,https", "PROTOCOLS_STR");
    easy.set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https", "REDIR_PROTOCOLS_STR");
    easy.set(CURLOPT_FOLLOWLOCATION, 1L, "FOLLOWLOCATION");
    easy.set(CURLOPT_MAXREDIRS, 10L, "MAXREDIRS");
    easy.set(CURLOPT_NOSIGNAL, 1L, "NOSIGNAL");  // worker threads: no SIGALRM for DNS timeouts
    easy.set(CURLOPT_ACCEPT_ENCODING, "", "ACCEPT_ENCODING");
    easy.set(CURLOPT_USERAGENT, "jobgraph", "USERAGENT");
    easy.set(CURLOPT_ERRORBUFFER, error_text, "ERRORBUFFER");
    easy.set(CURLOPT_WRITEFUNCTION, receive_body, "WRITEFUNCTION");
    easy.set(CURLOPT_WRITEDATA, static_cast<void*>(&reception), "WRITEDATA");
    easy.set(CURLOPT_HEADERFUNCTION, receive_header, "HEADERFUNCTION");
    easy.set(CURLOPT_HEADERDATA, static_cast<void*>(&reception), "HEADERDATA");
    if (request.timeout.count() > 0)
        easy.set(CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()), "TIMEOUT_MS");

    if (request.method == "HEAD") {
        easy.set(CURLOPT_NOBODY, 1L, "NOBODY");
    } else if (request.method != "GET" || request.body) {
        easy.set(CURLOPT_CUSTOMREQUEST, request.method.c_str(), "CUSTOMREQUEST");
    }
    if (request.body) {
        easy.set(CURLOPT_POSTFIELDS, request.body->data(), "POSTFIELDS");
        easy.set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body->size()), "POSTFIELDSIZE_LARGE");
    }
    CurlHeaderList headers;
    for (const auto& [name, value] : request.headers) headers.append(name + ": " + value);
    headers.append("Expect:");  // no "100-continue" round trip before larger bodies
    easy.set(CURLOPT_HTTPHEADER, headers.get(), "HTTPHEADER");

    CurlMulti multi(easy);
    // Declared after the multi handle, so it is gone (and not running) before the handle is.
    const std::stop_callback wake_on_stop(stop, [&multi] { curl_multi_wakeup(multi.get()); });
    CURLcode result = CURLE_OK;
    for (;;) {
        if (stop.stop_requested())
            throw StopRequested(fmt::format("Stopped on request: {} was abandoned", describe(request)));
        int running = 0;
        if (const CURLMcode code = curl_multi_perform(multi.get(), &running); code != CURLM_OK) {
            throw std::runtime_error(fmt::format("{}: {}", describe(request), curl_multi_strerror(code)));
        }
        if (running == 0) {
            int queued = 0;
            const CURLMsg* message = curl_multi_info_read(multi.get(), &queued);
            result = message && message->msg == CURLMSG_DONE ? message->data.result : CURLE_OK;
            break;
        }
        if (const CURLMcode code = curl_multi_poll(multi.get(), nullptr, 0, poll_interval_ms, nullptr);
            code != CURLM_OK) {
            throw std::runtime_error(fmt::format("{}: {}", describe(request), curl_multi_strerror(code)));
        }
    }

    if (result != CURLE_OK) {
        const std::string detail = error_text[0] != '\0' ? error_text : curl_easy_strerror(result);
        switch (result) {
            case CURLE_WRITE_ERROR:
                if (reception.body_too_large) {
                    throw NonRetryableError(
                        fmt::format("{}: the response body exceeds {} MiB", describe(request), http_body_limit >> 20));
                }
                break;
            case CURLE_OPERATION_TIMEDOUT:
                if (request.timeout.count() == 0) break;
                throw std::runtime_error(
                    fmt::format("{}: no complete response within {} ms", describe(request), request.timeout.count()));
            case CURLE_URL_MALFORMAT:
            case CURLE_UNSUPPORTED_PROTOCOL:
                throw NonRetryableError(fmt::format("{}: {}", describe(request), detail));
            default:
                break;
        }
        throw std::runtime_error(fmt::format("{}: {}", describe(request), detail));
    }
    long status = 0;
    curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status);
    reception.response.status = status;
    return std::move(reception.response);
}

void throw_for_failed_status(const HttpRequest& request, const HttpResponse& response) {
    const long status = response.status;
    if (status < 400) return;
    const std::string body = excerpt(response.body);
    const std::string message =
        fmt::format("{} answered status {}{}{}", describe(request), status, body.empty() ? "" : ": ", body);
    if (status == 429 || status >= 500) throw std::runtime_error(message);
    throw NonRetryableError(message);
}

}  // namespace jobgraph::services
