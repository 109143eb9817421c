// What the send path needs to know about a conversation without a store read:
// that it exists, its kind and posting rule, and its current members. Entries
// are dropped when a membership event for the conversation commits.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/store.h"

namespace parley::chat {

struct MemberRef {
  std::string user_id;
  uint64_t joined_seq = 0;  // entries below it were sent before the member joined
};

struct ConversationInfo {
  // Kind and posting rule; empty until read from the conversation's record
  // (an entry may hold only members).
  std::optional<store::ConversationKind> kind;
  std::string posting = "all";
  // Current members; null until loaded.
  std::shared_ptr<const std::vector<MemberRef>> members;
  // user → joined_seq of the same members, for big conversations only (see
  // ChatService::OnlineMembers); null otherwise.
  std::shared_ptr<const std::unordered_map<std::string, uint64_t>> member_index;
  // Cluster mode: the conversation's last seq read just after `members`. The
  // list may already reflect membership events up to it, written by other
  // nodes: an entry below it needs those events rolled back (ChatService::MembersAt).
  uint64_t members_upto_seq = 0;
};

class ConversationCache {
 public:
  std::optional<ConversationInfo> Get(const std::string& conversation_id) const;
  void Put(const std::string& conversation_id, ConversationInfo info);
  void Invalidate(const std::string& conversation_id);

 private:
  static constexpr size_t kMaxEntries = 100'000;
  mutable std::mutex mu_;
  std::unordered_map<std::string, ConversationInfo> entries_;  // guarded by mu_
};

}  // namespace parley::chat
