#include "store/append_rules.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace parley::store {
namespace {

constexpr size_t kReplyPreviewBytes = 100;

bool ValidUser(std::string_view id) {
  return !id.empty() && id.find('\0') == std::string_view::npos;
}

// What a tombstone keeps of a message: who sent it, when, and where.
void Tombstone(EntryRecord& e) {
  e.content.clear();
  e.media_id.clear();
  e.reply_preview.clear();
  e.reactions.clear();
  e.edited_at = 0;
  e.deleted = true;
}

void Recount(std::map<std::string, uint32_t>& counts, const std::string& before,
             const std::string& after) {
  if (!before.empty()) {
    auto it = counts.find(before);
    if (it != counts.end() && --it->second == 0) counts.erase(it);
  }
  if (!after.empty()) ++counts[after];
}

// The current member `user_id` must be (else NotFound) for a removal or role change.
Result<MemberRecord> RequireMember(const StagedAppend& staged, const StoredMember& stored,
                                   const std::string& user_id) {
  if (!ValidUser(user_id)) return BadRequest("invalid member id");
  Result<std::optional<MemberRecord>> current = CurrentMember(staged, stored, user_id);
  if (!current.ok()) return current.status();
  if (!current->has_value()) return NotFound("not a member: " + user_id);
  return std::move(**current);
}

}  // namespace

Result<std::optional<MemberRecord>> CurrentMember(const StagedAppend& staged,
                                                  const StoredMember& stored,
                                                  const std::string& user_id) {
  std::optional<MemberRecord> found;
  if (auto it = staged.members.find(user_id); it != staged.members.end()) {
    found = it->second;
  } else if (staged.created) {
    return found;  // a new conversation has no members yet
  } else {
    Result<std::optional<MemberRecord>> record = stored(user_id);
    if (!record.ok()) return record.status();
    found = std::move(*record);
  }
  if (found && !found->current()) found.reset();
  return found;
}

Status CheckAccess(const AppendRequest& request, const StagedAppend& staged,
                   const StoredMember& stored) {
  if (!request.require_member.empty()) {
    Result<std::optional<MemberRecord>> member =
        CurrentMember(staged, stored, request.require_member);
    if (!member.ok()) return member.status();
    if (!member->has_value()) return Forbidden("not a member of this conversation");
  }
  if (!request.require_admin.empty()) {
    Result<std::optional<MemberRecord>> admin = CurrentMember(staged, stored, request.require_admin);
    if (!admin.ok()) return admin.status();
    if (!admin->has_value() || (*admin)->role != Role::kAdmin) {
      return Forbidden("not an admin of this conversation");
    }
  }
  return Status::Ok();
}

Status StageMembership(const AppendRequest& request, StagedAppend* staged,
                       const StoredMember& stored) {
  uint32_t added = 0;
  for (const MemberRecord& add : request.add_members) {
    if (!ValidUser(add.user_id)) return BadRequest("invalid member id");
    Result<std::optional<MemberRecord>> current = CurrentMember(*staged, stored, add.user_id);
    if (!current.ok()) return current.status();
    if (current->has_value()) continue;  // already a member (or listed twice)
    MemberRecord record = add;
    record.conversation_id = staged->conversation.conversation_id;
    record.joined_seq = staged->seq;
    record.left_seq = 0;
    if (record.joined_at == 0) record.joined_at = request.entry.ts;
    staged->members[add.user_id] = std::move(record);
    ++added;
  }
  uint64_t count = uint64_t{staged->conversation.member_count} + added;
  if (request.max_members != 0 && count > request.max_members) {
    return Conflict("conversation is full");
  }
  staged->conversation.member_count = static_cast<uint32_t>(count);
  for (const std::string& user_id : request.remove_members) {
    Result<MemberRecord> record = RequireMember(*staged, stored, user_id);
    if (!record.ok()) return record.status();
    record->left_seq = staged->seq;
    staged->members[user_id] = std::move(*record);
    if (staged->conversation.member_count > 0) --staged->conversation.member_count;
  }
  for (const auto& [user_id, role] : request.set_roles) {
    Result<MemberRecord> record = RequireMember(*staged, stored, user_id);
    if (!record.ok()) return record.status();
    record->role = role;
    staged->members[user_id] = std::move(*record);
  }
  return Status::Ok();
}

Status StagePromotion(StagedAppend* staged, const StoredMembers& stored) {
  std::optional<MemberRecord> oldest;
  bool has_admin = false;
  std::set<std::string> seen;  // users whose latest state was considered
  auto consider = [&](const MemberRecord& m) {
    if (!seen.insert(m.user_id).second || !m.current()) return;
    if (m.role == Role::kAdmin) has_admin = true;
    if (!oldest ||
        std::tie(m.joined_seq, m.user_id) < std::tie(oldest->joined_seq, oldest->user_id)) {
      oldest = m;
    }
  };
  for (const auto& [user_id, member] : staged->members) consider(member);
  if (!staged->created) {
    PARLEY_RETURN_IF_ERROR(stored([&](const MemberRecord& m) {
      consider(m);
      return !has_admin;
    }));
  }
  if (has_admin || !oldest) return Status::Ok();
  oldest->role = Role::kAdmin;
  staged->promoted = oldest->user_id;
  staged->members[oldest->user_id] = std::move(*oldest);
  return Status::Ok();
}

bool WithinIdempotencyWindow(const AppendRequest& request, const IdempotencyRecord& record) {
  return request.entry.ts - record.ts < request.idempotency_window_ms;
}

bool MergeReceipt(const ReceiptRecord& asked, uint64_t last_seq, ReceiptRecord* stored) {
  uint64_t read = std::min(std::max(stored->read_seq, asked.read_seq), last_seq);
  uint64_t delivered =
      std::min(std::max({stored->delivered_seq, asked.delivered_seq, read}), last_seq);
  if (read == stored->read_seq && delivered == stored->delivered_seq) return false;
  stored->read_seq = read;
  stored->delivered_seq = delivered;
  stored->updated_at = asked.updated_at;
  return true;
}

std::string ReplyPreview(const std::string& content) {
  if (content.size() <= kReplyPreviewBytes) return content;
  size_t n = kReplyPreviewBytes;
  while (n > 0 && (static_cast<unsigned char>(content[n]) & 0xC0) == 0x80) --n;
  return content.substr(0, n);
}

Result<bool> ChangeTarget(const MessageChange& change, const MemberRecord& actor,
                          const EntryRecord& event, const std::string& reaction,
                          EntryRecord* target) {
  bool own = target->sender == actor.user_id;
  bool in_window = event.ts - target->ts < change.sender_window_ms;
  switch (change.op) {
    case MessageChange::Op::kEdit:
      if (target->deleted) return NotFound("that message was deleted");
      if (!own) return Forbidden("only its sender may edit a message");
      if (!in_window) return Forbidden("the edit window of this message has passed");
      target->content = event.content;
      target->edited_at = event.ts;
      return true;
    case MessageChange::Op::kDelete:
      if (target->deleted) return false;
      if (!(own && in_window) && !(change.admin_may_delete && actor.role == Role::kAdmin)) {
        return Forbidden(own ? "the delete window of this message has passed"
                             : "only its sender or a group admin may delete a message");
      }
      Tombstone(*target);
      return true;
    case MessageChange::Op::kReact:
      if (target->deleted) return NotFound("that message was deleted");
      if (reaction == change.emoji) return false;
      Recount(target->reactions, reaction, change.emoji);
      return true;
    case MessageChange::Op::kCounts:
      if (target->deleted) return NotFound("that message was deleted");
      return true;
    case MessageChange::Op::kHide:
      break;  // no change to the target: the stores record a HiddenRecord
  }
  return Internal("unknown message change");
}

void ScrubCopiedContent(EntryRecord* e) {
  if (e->is_event) {
    e->content.clear();  // an edit's text
    e->deleted = true;
  } else {
    e->reply_preview.clear();
  }
}

}  // namespace parley::store
