#pragma once
// The tables of the PostgreSQL store, and their creation and version check.

#include "store/postgres/pg_connection.hpp"

namespace jobgraph::detail::pg {

/// Bumped whenever the tables change; a database with a higher version is refused, not guessed at.
inline constexpr int schema_version = 1;

/// Creates the tables in the connection's current schema if they are missing, or checks that
/// the ones there have a version this build reads. Two processes may do it at once.
void open_schema(Connection& connection);

}  // namespace jobgraph::detail::pg
