// The PostgreSQL schema as numbered migrations. Migrate() applies the ones a
// database lacks, each in its own transaction together with its row in
// schema_migrations, under an advisory lock so that several servers starting
// at once apply each migration exactly once.
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/postgres/pg_connection.h"

namespace parley::store::pg {

struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

// Every migration, ascending version. Never edit a shipped one: add another.
const std::vector<Migration>& Migrations();

// Applies the missing migrations; returns how many it applied.
Result<int> Migrate(Connection& conn);

}  // namespace parley::store::pg
