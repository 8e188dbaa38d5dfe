#pragma once
// A thin layer over libpq: one connection, its results, and transactions that roll back unless
// committed. Every statement with values takes them as parameters (text format), never spliced
// into the SQL.

#include <libpq-fe.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace jobgraph::detail::pg {

/// One statement parameter in text form; nullopt is SQL NULL.
class Param {
public:
    Param(std::nullptr_t) {}  // NOLINT(google-explicit-constructor): a parameter list reads as values
    Param(std::string_view text) : text_(text) {}
    Param(const std::string& text) : text_(text) {}
    Param(const char* text) : text_(text) {}
    Param(std::int64_t number) : text_(std::to_string(number)) {}
    Param(int number) : text_(std::to_string(number)) {}
    Param(bool value) : text_(value ? "true" : "false") {}
    Param(std::optional<std::string> text) : text_(std::move(text)) {}

    const char* c_str() const noexcept { return text_ ? text_->c_str() : nullptr; }

private:
    std::optional<std::string> text_;
};

/// A statement's outcome, rows in text format.
class Result {
public:
    explicit Result(PGresult* result) : result_(result) {}

    int rows() const noexcept { return PQntuples(result_.get()); }
    bool is_null(int row, int column) const noexcept { return PQgetisnull(result_.get(), row, column) != 0; }
    std::string text(int row, int column) const;
    std::optional<std::string> optional_text(int row, int column) const;
    std::int64_t int64(int row, int column) const;
    double float8(int row, int column) const;
    bool boolean(int row, int column) const;
    /// Rows an INSERT, UPDATE or DELETE touched.
    std::int64_t affected() const;

private:
    struct Clear {
        void operator()(PGresult* result) const noexcept { PQclear(result); }
    };
    std::unique_ptr<PGresult, Clear> result_;
};

/// A libpq connection. Not thread-safe: the store serialises its use.
class Connection {
public:
    /// Connects; throws StoreError with libpq's reason if it cannot.
    explicit Connection(const std::string& conninfo);

    /// Runs SQL without parameters (DDL, BEGIN, COMMIT); it may hold several statements.
    void exec_script(const char* sql, std::string_view operation);
    /// Runs one statement with its parameters.
    Result exec(const char* sql, std::initializer_list<Param> params, std::string_view operation);
    /// Reconnects if the server connection was lost (between transactions, never inside one).
    void reconnect_if_broken();
    /// For messages: the database and server, never the password.
    const std::string& where() const noexcept { return where_; }

private:
    [[noreturn]] void fail(std::string_view operation, const PGresult* result) const;
    Result check(PGresult* raw, std::string_view operation) const;
    void configure();

    struct Finish {
        void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
    };
    std::unique_ptr<PGconn, Finish> conn_;
    std::string where_;
};

/// BEGIN on construction; ROLLBACK on destruction unless commit() was called.
class Transaction {
public:
    Transaction(Connection& connection, std::string_view operation, const char* begin_sql = "BEGIN");
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    void commit();

private:
    Connection& connection_;
    std::string_view operation_;
    bool committed_ = false;
};

}  // namespace jobgraph::detail::pg
