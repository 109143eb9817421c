// The networked store: the same Store interface on PostgreSQL, for several
// servers sharing one database. Schema and operation: docs/operations.md.
#pragma once

#include <string>

#include "common/status.h"
#include "store/store.h"

namespace parley::store {

// True for the URLs OpenPostgresStore takes (postgres:// or postgresql://).
bool IsPostgresUrl(std::string_view url);

// Connects to `url` (a libpq URL, postgres://user@host:port/db), applies the
// missing schema migrations and opens the store. Unavailable when the
// database cannot be reached.
Result<StorePtr> OpenPostgresStore(const std::string& url, StoreOptions options);

}  // namespace parley::store
