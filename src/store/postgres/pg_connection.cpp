#include "store/postgres/pg_connection.hpp"

#include "jobgraph/store.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <vector>

namespace jobgraph::detail::pg {
namespace {

// libpq's messages end in a newline and may run over several lines; a StoreError is one line.
std::string one_line(const char* message) {
    std::string text = message ? message : "";
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    for (char& c : text) {
        if (c == '\n') c = ' ';
    }
    return text.empty() ? std::string("unknown error") : text;
}

// CREATE ... IF NOT EXISTS and the like send notices, which libpq prints to stderr by default.
void ignore_notice(void*, const char*) {}

}  // namespace

std::string Result::text(int row, int column) const {
    const char* value = PQgetvalue(result_.get(), row, column);
    return std::string(value, static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

std::optional<std::string> Result::optional_text(int row, int column) const {
    if (is_null(row, column)) return std::nullopt;
    return text(row, column);
}

std::int64_t Result::int64(int row, int column) const {
    const char* value = PQgetvalue(result_.get(), row, column);
    const char* end = value + PQgetlength(result_.get(), row, column);
    std::int64_t number = 0;
    const auto [at, error] = std::from_chars(value, end, number);
    if (error != std::errc{} || at != end) {
        throw StoreError(fmt::format("PostgresStore: expected an integer, read \"{}\"", std::string_view(value, end)));
    }
    return number;
}

double Result::float8(int row, int column) const {
    // PostgreSQL writes the shortest text that reads back as the same double (extra_float_digits 1).
    const std::string value = text(row, column);
    char* end = nullptr;
    const double number = std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size()) {
        throw StoreError(fmt::format("PostgresStore: expected a number, read \"{}\"", value));
    }
    return number;
}

bool Result::boolean(int row, int column) const {
    return text(row, column) == "t";
}

std::int64_t Result::affected() const {
    const char* count = PQcmdTuples(result_.get());
    return count[0] ? std::strtoll(count, nullptr, 10) : 0;
}

Connection::Connection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (!conn_) throw StoreError("PostgresStore: cannot connect: out of memory");
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
        throw StoreError(fmt::format("PostgresStore: cannot connect: {}", one_line(PQerrorMessage(conn_.get()))));
    }
    const char* host = PQhost(conn_.get());
    where_ = fmt::format("database \"{}\" on {}", PQdb(conn_.get()), host && host[0] ? host : "the local socket");
    configure();
}

void Connection::configure() {
    PQsetNoticeProcessor(conn_.get(), ignore_notice, nullptr);
    // Text is sent and read as UTF-8 whatever the client's locale; times are read as UTC.
    if (PQsetClientEncoding(conn_.get(), "UTF8") != 0) {
        throw StoreError(
            fmt::format("PostgresStore: {} cannot take UTF-8 text: {}", where_, one_line(PQerrorMessage(conn_.get()))));
    }
    exec_script("SET TIME ZONE 'UTC'", "configure the connection");
}

void Connection::reconnect_if_broken() {
    if (PQstatus(conn_.get()) == CONNECTION_OK) return;
    PQreset(conn_.get());
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
        throw StoreError(fmt::format("PostgresStore: lost the connection to {} and cannot reconnect: {}", where_,
                                     one_line(PQerrorMessage(conn_.get()))));
    }
    configure();
}

void Connection::fail(std::string_view operation, const PGresult* result) const {
    const char* message = result ? PQresultErrorMessage(result) : PQerrorMessage(conn_.get());
    if (!message || !message[0]) message = PQerrorMessage(conn_.get());
    throw StoreError(fmt::format("PostgresStore: {} failed on {}: {}", operation, where_, one_line(message)));
}

Result Connection::check(PGresult* raw, std::string_view operation) const {
    Result result(raw);  // owned before anything can throw
    if (!raw) fail(operation, nullptr);
    const ExecStatusType status = PQresultStatus(raw);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(operation, raw);
    return result;
}

void Connection::exec_script(const char* sql, std::string_view operation) {
    check(PQexec(conn_.get(), sql), operation);
}

Result Connection::exec(const char* sql, std::initializer_list<Param> params, std::string_view operation) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const Param& param : params) values.push_back(param.c_str());
    return check(
        PQexecParams(conn_.get(), sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0),
        operation);
}

Transaction::Transaction(Connection& connection, std::string_view operation, const char* begin_sql)
    : connection_(connection), operation_(operation) {
    connection_.exec_script(begin_sql, operation_);
}

Transaction::~Transaction() {
    if (committed_) return;
    try {
        connection_.exec_script("ROLLBACK", operation_);
    } catch (...) {
        // A broken connection has rolled the transaction back already; the next use reconnects.
    }
}

void Transaction::commit() {
    connection_.exec_script("COMMIT", operation_);
    committed_ = true;
}

}  // namespace jobgraph::detail::pg
