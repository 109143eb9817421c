// The embedded store of single-node mode: RocksDB in a local directory, with
// one committer thread that group-commits appends (see committer.h).
#pragma once

#include <string>

#include "common/status.h"
#include "store/store.h"

namespace parley::store {

// Opens the store in `dir`, creating it when missing, and recovers the last
// committed version. The directory is locked by one process at a time: a
// second open fails with kUnavailable, as do I/O errors.
Result<StorePtr> OpenRocksDbStore(const std::string& dir, StoreOptions options);

}  // namespace parley::store
