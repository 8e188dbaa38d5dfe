#include "postgres_schema.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string_view>

namespace cli_test {
namespace {

std::string test_conninfo() {
    const char* conninfo = std::getenv("JOBGRAPH_TEST_POSTGRES");
    if (conninfo == nullptr || conninfo[0] == '\0') throw std::runtime_error("JOBGRAPH_TEST_POSTGRES is not set");
    return conninfo;
}

// A value in a keyword string: quoted, with \ and ' escaped.
std::string quoted(std::string_view value) {
    std::string out = "'";
    for (const char c : value) {
        if (c == '\\' || c == '\'') out += '\\';
        out += c;
    }
    return out + "'";
}

// Every byte but the unreserved ones as %XX, for a URL's query.
std::string percent_encoded(std::string_view value) {
    std::string out;
    for (const char c : value) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9') || c == '-' ||
            c == '_' || c == '.' || c == '~') {
            out += c;
        } else {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "%%%02X", byte);
            out += escaped;
        }
    }
    return out;
}

}  // namespace

TestSchema::TestSchema() {
    const std::string conninfo = test_conninfo();
    admin_.reset(PQconnectdb(conninfo.c_str()));
    if (PQstatus(admin_.get()) != CONNECTION_OK) {
        throw std::runtime_error("cannot connect to the test database: " + std::string(PQerrorMessage(admin_.get())));
    }
    PQsetNoticeProcessor(
        admin_.get(), [](void*, const char*) {}, nullptr);  // DROP ... CASCADE lists what it dropped
    std::random_device device;
    char name[40];
    std::snprintf(name, sizeof name, "jobgraph_cli_test_%08x%08x", device(), device());
    name_ = name;
    exec("CREATE SCHEMA " + name_);

    // The same connection, written both ways, with the schema first on the search path.
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
    if (options == nullptr) {
        const std::string message = error ? error : "out of memory";
        PQfreemem(error);
        throw std::runtime_error("JOBGRAPH_TEST_POSTGRES: " + message);
    }
    std::string server_options;
    std::string query;
    for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
        if (option->val == nullptr || option->val[0] == '\0') continue;
        const std::string_view keyword = option->keyword;
        if (keyword == "options") {
            server_options = std::string(option->val) + " ";
            continue;
        }
        keywords_ += std::string(keyword) + "=" + quoted(option->val) + " ";
        query += std::string(keyword) + "=" + percent_encoded(option->val) + "&";
    }
    PQconninfoFree(options);
    server_options += "-c search_path=" + name_;
    keywords_ += "options=" + quoted(server_options);
    url_ = "postgresql://?" + query + "options=" + percent_encoded(server_options);
}

TestSchema::~TestSchema() {
    try {
        exec("DROP SCHEMA " + name_ + " CASCADE");
    } catch (const std::exception& e) {
        WARN("could not drop the test schema " << name_ << ": " << e.what());
    }
}

void TestSchema::exec(const std::string& sql) {
    PGresult* result = PQexec(admin_.get(), sql.c_str());
    const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    const std::string message = PQresultErrorMessage(result);
    PQclear(result);
    if (!ok) throw std::runtime_error(sql + ": " + message);
}

}  // namespace cli_test
