#pragma once
// A schema of its own for each PostgreSQL test, in the database JOBGRAPH_TEST_POSTGRES names.

#include "../store_contract.hpp"

#include <jobgraph/postgres_store.hpp>

#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <vector>

namespace jobgraph::testing {

/// A plain libpq connection, for what the tests do behind the store's back.
class PostgresConnection {
public:
    explicit PostgresConnection(const std::string& conninfo);
    ~PostgresConnection();
    PostgresConnection(const PostgresConnection&) = delete;
    PostgresConnection& operator=(const PostgresConnection&) = delete;

    /// Runs one statement with its parameters; returns the rows it changed. Throws on error.
    std::int64_t exec(const std::string& sql, const std::vector<std::string>& params = {});
    /// @p name quoted as an SQL identifier.
    std::string identifier(const std::string& name);

private:
    PGconn* conn_;
};

/// Creates a schema with a random name, and drops it with everything in it at the end.
class PostgresSchema {
public:
    PostgresSchema();
    ~PostgresSchema();
    PostgresSchema(const PostgresSchema&) = delete;
    PostgresSchema& operator=(const PostgresSchema&) = delete;

    /// A connection string whose search path starts with this schema.
    const std::string& conninfo() const noexcept { return conninfo_; }
    /// The schema's name; also the application_name of the connections conninfo() makes.
    const std::string& name() const noexcept { return name_; }
    /// A table of this schema, qualified and quoted.
    std::string table(const std::string& name);
    PostgresConnection& admin() noexcept { return admin_; }

private:
    PostgresConnection admin_;
    std::string name_;
    std::string conninfo_;
};

}  // namespace jobgraph::testing
