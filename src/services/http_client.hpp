#pragma once
/// @file http_client.hpp
/// @brief One HTTP exchange over libcurl, abandoned at once when a stop token turns on. Used by
/// http/request and llm/chat.

#include <chrono>
#include <cstddef>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

namespace jobgraph::services {

/// @brief The largest response body kept; a larger one fails the exchange.
inline constexpr std::size_t http_body_limit = std::size_t{16} << 20;  // 16 MiB

/// @brief What to send.
struct HttpRequest {
    std::string method = "GET";
    std::string url;                                           ///< http:// or https:// only
    std::vector<std::pair<std::string, std::string>> headers;  ///< name, value
    std::optional<std::string> body;
    std::chrono::milliseconds timeout{0};  ///< for the whole exchange; 0: none
};

/// @brief What came back (after any redirects).
struct HttpResponse {
    long status = 0;
    /// Names in lower case, in the order received; a repeated header appears once per line.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    /// @brief The header's values joined with ", ", or nullopt if it is absent.
    std::optional<std::string> header(std::string_view lower_case_name) const;
    /// @brief Whether Content-Type says JSON (application/json or any "+json" type).
    bool is_json() const;
};

/// @brief Performs the exchange. Throws StopRequested once @p stop turns on (the transfer is
/// dropped); NonRetryableError for a request that can never work (a malformed URL, an
/// unsupported scheme) or a body over http_body_limit; std::runtime_error for anything else
/// that went wrong on the way (no connection, a timeout, a reset), all naming method and URL.
/// Any status, 4xx and 5xx included, is a response, not an error.
HttpResponse perform_http(const HttpRequest& request, const std::stop_token& stop);

/// @brief Throws for a status that means failure: std::runtime_error for 429 and 5xx (worth
/// trying again later), NonRetryableError for other 4xx; the message names method, URL, status
/// and the start of the body.
void throw_for_failed_status(const HttpRequest& request, const HttpResponse& response);

}  // namespace jobgraph::services
