#include "chat/conversation_cache.h"

namespace parley::chat {

std::optional<ConversationInfo> ConversationCache::Get(const std::string& conversation_id) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(conversation_id);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void ConversationCache::Put(const std::string& conversation_id, ConversationInfo info) {
  std::lock_guard lock(mu_);
  // Crude bound: a full cache starts over; misses only cost a store read.
  if (entries_.size() >= kMaxEntries) entries_.clear();
  entries_[conversation_id] = std::move(info);
}

void ConversationCache::Invalidate(const std::string& conversation_id) {
  std::lock_guard lock(mu_);
  entries_.erase(conversation_id);
}

}  // namespace parley::chat
