// Who may see whom: blocks (cached per blocker, dropped on change) and
// whether two users share a direct conversation or a group (not a channel).
// Reads the store: call from worker threads.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "store/store.h"

namespace parley::chat {

class Relations {
 public:
  explicit Relations(store::Store& store) : store_(store) {}
  // Cluster mode: blocks set on another node reach this node's cache after at
  // most `ttl_ms` (a node only sees its own changes). Call before serving.
  void ExpireCachedBlocks(const Clock* clock, int64_t ttl_ms) {
    clock_ = clock;
    block_ttl_ms_ = ttl_ms;
  }

  // Whether `blocker` has blocked `blocked`. Errors read as "not blocked"
  // would leak; they read as blocked (fail closed).
  bool Blocks(const std::string& blocker, const std::string& blocked);
  Status SetBlocked(const std::string& blocker, const std::string& blocked, bool on);
  Result<std::vector<std::string>> ListBlocked(const std::string& blocker);
  // Whether `viewer` may see `user`'s presence, typing and receipts: they
  // share a direct conversation or a group, and `user` has not blocked `viewer`.
  bool MaySee(const std::string& viewer, const std::string& user);

 private:
  std::shared_ptr<const std::set<std::string>> BlockedBy(const std::string& blocker);

  store::Store& store_;
  std::mutex mu_;
  struct CachedBlocks {
    std::shared_ptr<const std::set<std::string>> blocked;
    int64_t read_at_ms = 0;
  };
  std::unordered_map<std::string, CachedBlocks> blocks_;  // guarded by mu_
  const Clock* clock_ = nullptr;
  int64_t block_ttl_ms_ = 0;  // 0: until this node changes them
};

}  // namespace parley::chat
