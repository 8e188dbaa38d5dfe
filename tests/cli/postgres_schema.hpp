#pragma once
// A schema of its own for each of the runner's PostgreSQL tests, in the database that
// JOBGRAPH_TEST_POSTGRES names, and the store strings that reach it.

#include <libpq-fe.h>

#include <memory>
#include <string>

namespace cli_test {

/// @brief Creates a schema with a random name, and drops it with everything in it at the end.
class TestSchema {
public:
    TestSchema();
    ~TestSchema();
    TestSchema(const TestSchema&) = delete;
    TestSchema& operator=(const TestSchema&) = delete;

    const std::string& name() const noexcept { return name_; }
    /// @brief The store as a libpq keyword string, "key='value' ... options='-c search_path=<schema>'".
    const std::string& keywords() const noexcept { return keywords_; }
    /// @brief The same store as a postgresql:// URL, "?...&options=-c%20search_path%3D<schema>".
    const std::string& url() const noexcept { return url_; }

private:
    void exec(const std::string& sql);

    std::unique_ptr<PGconn, decltype(&PQfinish)> admin_{nullptr, &PQfinish};
    std::string name_;
    std::string keywords_;
    std::string url_;
};

}  // namespace cli_test
