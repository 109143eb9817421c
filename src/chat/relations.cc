#include "chat/relations.h"

#include "common/ids.h"

namespace parley::chat {

Result<std::shared_ptr<const std::set<std::string>>> Relations::BlockedBy(
    const std::string& blocker) {
  if (cache_blocks_) {
    std::lock_guard lock(mu_);
    if (auto it = blocks_.find(blocker); it != blocks_.end()) return it->second;
  }
  auto list = store_.ListBlocked(blocker);
  if (!list.ok()) return list.status();
  auto set = std::make_shared<const std::set<std::string>>(list->begin(), list->end());
  if (!cache_blocks_) return set;
  std::lock_guard lock(mu_);
  if (blocks_.size() > 100'000) blocks_.clear();
  blocks_[blocker] = set;
  return set;
}

bool Relations::Blocks(const std::string& blocker, const std::string& blocked) {
  auto blocks = CheckBlocks(blocker, blocked);
  return !blocks.ok() || *blocks;
}

Result<bool> Relations::CheckBlocks(const std::string& blocker, const std::string& blocked) {
  auto set = BlockedBy(blocker);
  if (!set.ok()) return set.status();
  return (*set)->count(blocked) > 0;
}

Status Relations::SetBlocked(const std::string& blocker, const std::string& blocked, bool on) {
  Status s = store_.SetBlocked(blocker, blocked, on);
  std::lock_guard lock(mu_);
  blocks_.erase(blocker);
  return s;
}

Result<std::vector<std::string>> Relations::ListBlocked(const std::string& blocker) {
  return store_.ListBlocked(blocker);
}

bool Relations::MaySee(const std::string& viewer, const std::string& user) {
  if (viewer == user) return true;
  if (Blocks(user, viewer)) return false;
  auto direct = store_.GetMember(DirectConversationId(viewer, user), viewer);
  if (direct.ok()) return true;
  auto mine = store_.ListUserConversations(viewer);
  if (!mine.ok()) return false;
  for (const store::MemberRecord& m : *mine) {
    if (!m.current() || !IsGroupConversationId(m.conversation_id)) continue;  // groups only
    auto theirs = store_.GetMember(m.conversation_id, user);
    if (theirs.ok() && theirs->current()) return true;
  }
  return false;
}

}  // namespace parley::chat
