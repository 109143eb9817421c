// Who may see whom: blocks (cached per blocker, dropped on change) and
// whether two users share a direct conversation or a group (not a channel).
// Reads the store: call from worker threads.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "store/store.h"

namespace parley::chat {

class Relations {
 public:
  explicit Relations(store::Store& store) : store_(store) {}
  // Cluster mode: another node may change blocks at any moment and this node
  // would not hear of it, so they are read from the store every time (a block
  // or unblock holds at once everywhere). Call before serving.
  void ReadBlocksThrough() { cache_blocks_ = false; }

  // Whether `blocker` has blocked `blocked`. Errors read as "not blocked"
  // would leak; they read as blocked (fail closed).
  bool Blocks(const std::string& blocker, const std::string& blocked);
  // The same, with a store failure as the error (a send answers `unavailable`).
  Result<bool> CheckBlocks(const std::string& blocker, const std::string& blocked);
  Status SetBlocked(const std::string& blocker, const std::string& blocked, bool on);
  Result<std::vector<std::string>> ListBlocked(const std::string& blocker);
  // Whether `viewer` may see `user`'s presence, typing and receipts: they
  // share a direct conversation or a group, and `user` has not blocked `viewer`.
  bool MaySee(const std::string& viewer, const std::string& user);

 private:
  Result<std::shared_ptr<const std::set<std::string>>> BlockedBy(const std::string& blocker);

  store::Store& store_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const std::set<std::string>>> blocks_;  // guarded
  bool cache_blocks_ = true;
};

}  // namespace parley::chat
