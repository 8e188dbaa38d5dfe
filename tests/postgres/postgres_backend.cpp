// The store contract's cases run against PostgresStore: each case in a schema of its own in
// the database JOBGRAPH_TEST_POSTGRES names, dropped at its end.
#include "postgres_backend.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <stdexcept>

namespace jobgraph::testing {
namespace {

std::string test_conninfo() {
    const char* conninfo = std::getenv("JOBGRAPH_TEST_POSTGRES");
    if (conninfo == nullptr || conninfo[0] == '\0') throw std::runtime_error("JOBGRAPH_TEST_POSTGRES is not set");
    return conninfo;
}

// A value in a keyword connection string: quoted, with \ and ' escaped.
std::string conninfo_value(std::string_view value) {
    std::string out = "'";
    for (const char c : value) {
        if (c == '\\' || c == '\'') out += '\\';
        out += c;
    }
    return out + "'";
}

// The same connection (URL or keywords) as keywords, with the schema first on the search path.
std::string with_search_path(const std::string& conninfo, const std::string& schema) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
    if (options == nullptr) {
        const std::string message = error ? error : "out of memory";
        PQfreemem(error);
        throw std::runtime_error("JOBGRAPH_TEST_POSTGRES: " + message);
    }
    std::string out;
    std::string server_options;
    for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
        if (option->val == nullptr) continue;
        if (std::string_view(option->keyword) == "options") {
            server_options = option->val;
            continue;
        }
        if (std::string_view(option->keyword) == "application_name") continue;
        out += fmt::format("{}={} ", option->keyword, conninfo_value(option->val));
    }
    PQconninfoFree(options);
    server_options += " -c search_path=" + schema;
    // Named after the schema, so that a test can find its own connections among the server's.
    return out + "application_name=" + schema + " options=" + conninfo_value(server_options);
}

}  // namespace

PostgresConnection::PostgresConnection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) {
        const std::string message = PQerrorMessage(conn_);
        PQfinish(conn_);
        throw std::runtime_error("cannot connect to the test database: " + message);
    }
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);  // DROP ... CASCADE lists what it dropped
}

PostgresConnection::~PostgresConnection() {
    PQfinish(conn_);
}

std::int64_t PostgresConnection::exec(const std::string& sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    for (const auto& param : params) values.push_back(param.c_str());
    PGresult* result =
        PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0);
    const ExecStatusType status = PQresultStatus(result);
    const std::string message = PQresultErrorMessage(result);
    const char* affected = PQcmdTuples(result);
    const std::int64_t rows = affected[0] ? std::strtoll(affected, nullptr, 10) : 0;
    PQclear(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw std::runtime_error(sql + ": " + message);
    return rows;
}

std::string PostgresConnection::identifier(const std::string& name) {
    char* escaped = PQescapeIdentifier(conn_, name.c_str(), name.size());
    if (escaped == nullptr) throw std::runtime_error(PQerrorMessage(conn_));
    std::string out = escaped;
    PQfreemem(escaped);
    return out;
}

PostgresSchema::PostgresSchema() : admin_(test_conninfo()) {
    std::random_device device;
    const std::uint64_t bits = (std::uint64_t{device()} << 32) | device();
    name_ = fmt::format("jobgraph_test_{:016x}", bits);
    admin_.exec("CREATE SCHEMA " + admin_.identifier(name_));
    conninfo_ = with_search_path(test_conninfo(), name_);
}

PostgresSchema::~PostgresSchema() {
    try {
        admin_.exec("DROP SCHEMA " + admin_.identifier(name_) + " CASCADE");
    } catch (const std::exception& e) {
        WARN("could not drop the test schema " << name_ << ": " << e.what());
    }
}

std::string PostgresSchema::table(const std::string& name) {
    return admin_.identifier(name_) + "." + admin_.identifier(name);
}

namespace {

class PostgresBackend final : public StoreBackend {
public:
    std::unique_ptr<JobStore> open() override { return std::make_unique<PostgresStore>(schema_.conninfo()); }
    void set_schema_version(int version) override {
        schema_.admin().exec("UPDATE " + schema_.table("jobgraph_schema_version") + " SET version = $1",
                             {std::to_string(version)});
    }

private:
    PostgresSchema schema_;
};

}  // namespace

std::unique_ptr<StoreBackend> make_store_backend() {
    return std::make_unique<PostgresBackend>();
}

}  // namespace jobgraph::testing
