// Groups and channels: creation, membership, roles, renames. Every change is
// an event appended to the conversation's ordered stream together with the
// membership records it changes, so clients see joins and leaves in order
// with the messages, and the store checks admin rights and caps atomically.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "chat/chat_service.h"

namespace parley::chat {

struct GroupOptions {
  uint32_t max_group_members = 500;
  uint32_t max_channel_members = 100'000;
  size_t max_name_bytes = 128;
  size_t max_initial_members = 1000;  // per create request; more are added afterwards
};

struct CreateGroupRequest {
  std::string creator;
  std::string name;
  std::vector<std::string> members;  // besides the creator
  store::ConversationKind kind = store::ConversationKind::kGroup;
};

struct MemberChangeResult {
  std::string conversation_id;
  uint64_t seq = 0;      // the event's seq; 0 when nothing changed (idempotent no-op)
};

class GroupService {
 public:
  GroupService(store::Store& store, ChatService& chat, Relations& relations, const Clock& clock,
               Snowflake& ids, GroupOptions options);

  void Create(CreateGroupRequest request, std::function<void(Result<std::string>)> done);
  // The group's description as JSON: name, kind, posting, members or member_count and a page.
  void Describe(std::string user_id, std::string conversation_id, std::string after_user,
                size_t limit, std::function<void(Result<std::string>)> done);
  void Update(std::string actor, std::string conversation_id, std::optional<std::string> name,
              std::optional<std::string> posting,
              std::function<void(Result<MemberChangeResult>)> done);
  void SetRole(std::string actor, std::string conversation_id, std::string user_id,
               store::Role role, std::function<void(Result<MemberChangeResult>)> done);
  void AddMember(std::string actor, std::string conversation_id, std::string user_id,
                 std::function<void(Result<MemberChangeResult>)> done);
  // Removal by an admin, or leaving when actor == user_id.
  void RemoveMember(std::string actor, std::string conversation_id, std::string user_id,
                    std::function<void(Result<MemberChangeResult>)> done);

 private:
  using Done = std::function<void(Result<MemberChangeResult>)>;
  Result<store::ConversationRecord> GroupRecord(const std::string& conversation_id);
  void AppendEvent(store::AppendRequest request, Done done);
  uint32_t CapFor(store::ConversationKind kind) const;
  Result<size_t> CountAdmins(const std::string& conversation_id);

  store::Store& store_;
  ChatService& chat_;
  Relations& relations_;
  const Clock& clock_;
  Snowflake& ids_;
  const GroupOptions options_;
};

}  // namespace parley::chat
