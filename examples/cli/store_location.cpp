#include "store_location.hpp"

#include "report.hpp"
#include "terminal_text.hpp"

#include <jobgraph/version.hpp>
#ifdef JOBGRAPH_HAS_POSTGRES
#include <jobgraph/postgres_store.hpp>
#endif

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

namespace jobgraph::cli {
namespace {

bool is_space(char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

bool is_url(std::string_view text) {
    return text.starts_with("postgresql://") || text.starts_with("postgres://");
}

// libpq reads text with '=' in it as keywords; a path rarely starts with a bare word and '='
// (and "./name=x.db" says it is a file).
bool is_keyword_string(std::string_view text) {
    std::size_t at = 0;
    while (at < text.size() && is_space(text[at])) ++at;
    const std::size_t start = at;
    while (at < text.size() && (std::isalnum(static_cast<unsigned char>(text[at])) != 0 || text[at] == '_')) ++at;
    if (at == start) return false;
    while (at < text.size() && is_space(text[at])) ++at;
    return at < text.size() && text[at] == '=';
}

// The URL's user part loses its password ("user:secret@" becomes "user@"), its query any
// password parameter.
std::string url_without_password(std::string_view url) {
    const std::size_t authority = url.find("://") + 3;
    std::size_t authority_end = url.find_first_of("/?", authority);
    if (authority_end == std::string_view::npos) authority_end = url.size();
    std::string out(url.substr(0, authority));
    const std::string_view host_part = url.substr(authority, authority_end - authority);
    const std::size_t at = host_part.rfind('@');
    if (at != std::string_view::npos) {
        const std::string_view user_part = host_part.substr(0, at);
        out += user_part.substr(0, user_part.find(':'));
        out += host_part.substr(at);
    } else {
        out += host_part;
    }
    const std::size_t query = url.find('?', authority_end);
    out += url.substr(authority_end, query == std::string_view::npos ? std::string_view::npos : query - authority_end);
    if (query == std::string_view::npos) return out;
    std::string kept;
    std::string_view rest = url.substr(query + 1);
    while (true) {
        const std::size_t amp = rest.find('&');
        const std::string_view parameter = rest.substr(0, amp);
        if (!parameter.starts_with("password=") && parameter != "password") {
            if (!kept.empty()) kept += '&';
            kept += parameter;
        }
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
    }
    if (!kept.empty()) out += "?" + kept;
    return out;
}

// Read as libpq reads keywords: `key = value` pairs, a value either bare (up to white space)
// or in single quotes, a backslash escaping the next character in both. The password pair is
// left out; text that does not parse is cut off there.
std::string keywords_without_password(std::string_view text) {
    std::string out;
    std::size_t at = 0;
    const auto skip_space = [&] {
        while (at < text.size() && is_space(text[at])) ++at;
    };
    while (true) {
        skip_space();
        if (at == text.size()) return out;
        const std::size_t start = at;
        while (at < text.size() && text[at] != '=' && !is_space(text[at])) ++at;
        const std::string_view keyword = text.substr(start, at - start);
        skip_space();
        if (at == text.size() || text[at] != '=') return out + (out.empty() ? "..." : " ...");
        ++at;
        skip_space();
        const bool quoted = at < text.size() && text[at] == '\'';
        if (quoted) ++at;
        bool closed = !quoted;
        while (at < text.size()) {
            if (text[at] == '\\') {
                at = std::min(at + 2, text.size());
                continue;
            }
            if (quoted && text[at] == '\'') {
                ++at;
                closed = true;
                break;
            }
            if (!quoted && is_space(text[at])) break;
            ++at;
        }
        if (!closed) return out + (out.empty() ? "..." : " ...");
        if (keyword == "password") continue;
        if (!out.empty()) out += ' ';
        out += text.substr(start, at - start);
    }
}

std::string without_password(std::string_view text) {
    return is_url(text) ? url_without_password(text) : keywords_without_password(text);
}

bool is_shell_safe(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("_-./:@%+=,").find(c) != std::string_view::npos;
}

std::unique_ptr<JobStore> open_postgres([[maybe_unused]] const StoreLocation& location) {
#ifdef JOBGRAPH_HAS_POSTGRES
    return std::make_unique<PostgresStore>(location.text());
#else
    throw StoreError(
        fmt::format("{}: names a PostgreSQL database, but this jobgraph was built without PostgreSQL "
                    "(JOBGRAPH_WITH_POSTGRES=OFF); it keeps jobs only in SQLite files",
                    location.display()));
#endif
}

}  // namespace

StoreLocation::StoreLocation(std::string text)
    : text_(std::move(text)),
      kind_(is_url(text_) || is_keyword_string(text_) ? Kind::postgres : Kind::sqlite_file),
      display_(kind_ == Kind::postgres ? without_password(text_) : text_) {}

std::string StoreLocation::shell_word() const {
    if (!display_.empty() && std::all_of(display_.begin(), display_.end(), is_shell_safe))
        return terminal_safe(display_);
    std::string quoted = "'";
    for (const char c : display_) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return terminal_safe(quoted + "'");
}

std::unique_ptr<JobStore> open_store(const StoreLocation& location, StoreAccess access) {
    if (location.kind() == StoreLocation::Kind::postgres) return open_postgres(location);
    if (access == StoreAccess::existing) {
        std::error_code error_code;
        if (!std::filesystem::exists(location.text(), error_code)) {
            throw StoreError(fmt::format("{}: no such job store", location.display()));
        }
    }
    return std::make_unique<SqliteStore>(location.text());
}

void report_store_error(const StoreLocation& location, const StoreError& error) {
    const std::string_view what = error.what();
    const std::string& name = location.display();
    report_error(what.find(name) != std::string_view::npos ? std::string(what) : fmt::format("{}: {}", name, what));
}

}  // namespace jobgraph::cli
