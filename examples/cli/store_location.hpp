#pragma once
/// @file store_location.hpp
/// @brief Where the runner keeps stored jobs, as named on the command line: a SQLite file, or a
/// PostgreSQL database named by a URL or a libpq keyword string (docs/runner.md). Every command
/// that takes a store opens it here.

#include "report.hpp"

#include <jobgraph/store.hpp>

#include <memory>
#include <string>
#include <utility>

namespace jobgraph::cli {

/// @brief A store as named on the command line.
class StoreLocation {
public:
    enum class Kind { sqlite_file, postgres };

    /// @brief A `postgres://` or `postgresql://` URL, or a libpq keyword string (text that
    /// starts with a keyword and `=`, such as "host=/run/postgresql dbname=jobs"), names a
    /// PostgreSQL database; anything else is the path of a SQLite file.
    explicit StoreLocation(std::string text);

    Kind kind() const noexcept { return kind_; }
    /// @brief The text as given: what the store is opened with.
    const std::string& text() const noexcept { return text_; }
    /// @brief The text for messages: as given, with any password left out.
    const std::string& display() const noexcept { return display_; }
    /// @brief display() as one shell word, quoted when it has to be, for hints such as
    /// "jobgraph resume STORE JOB_ID"; terminal_safe.
    std::string shell_word() const;

private:
    std::string text_;
    Kind kind_;
    std::string display_;
};

/// @brief Whether a command may create the store (`run --store`, `submit`) or needs one that
/// exists: a missing SQLite file is then refused rather than created empty, so that a typo in
/// the path does not leave a new file behind.
enum class StoreAccess { create, existing };

/// @brief Opens the store. Throws StoreError: for a missing SQLite file with
/// StoreAccess::existing ("<path>: no such job store"), for a PostgreSQL store in a build without
/// PostgreSQL, and whatever the store itself throws (cannot connect, unreadable, newer schema).
std::unique_ptr<JobStore> open_store(const StoreLocation& location, StoreAccess access);

/// @brief Prints @p error as "jobgraph: <store>: <message>" on stderr, the store shown by its
/// display() unless the message names it already.
void report_store_error(const StoreLocation& location, const StoreError& error);

/// @brief Opens the store and returns what @p body returns for it; a StoreError, from opening
/// or from @p body, is reported naming the store and is exit status 2.
template <class Body>
int with_store(const StoreLocation& location, StoreAccess access, Body&& body) {
    try {
        const std::unique_ptr<JobStore> store = open_store(location, access);
        return std::forward<Body>(body)(*store);
    } catch (const StoreError& error) {
        report_store_error(location, error);
        return exit_usage;
    }
}

}  // namespace jobgraph::cli
