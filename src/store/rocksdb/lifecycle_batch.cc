// The message lifecycle inside one group commit: replies, edits, deletes,
// reactions, hides and retention purges. Each is checked against the
// committed state plus what the batch staged before it, like every append,
// so a change and the event that records it commit atomically and in seq order.
#include <rocksdb/iterator.h>

#include <memory>

#include "common/ids.h"
#include "store/records.h"
#include "store/rocksdb/batch_builder.h"

namespace parley::store {
namespace {

constexpr char kNoSuchMessage[] = "no such message in this conversation";
constexpr size_t kReplyPreviewBytes = 100;

// The first bytes of `content`, cut at a UTF-8 character boundary.
std::string Preview(const std::string& content) {
  if (content.size() <= kReplyPreviewBytes) return content;
  size_t n = kReplyPreviewBytes;
  while (n > 0 && (static_cast<unsigned char>(content[n]) & 0xC0) == 0x80) --n;
  return content.substr(0, n);
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

}  // namespace

// A message's reply_to and media_id: the quoted message must be one the
// sender can see; its sender and a preview are copied into the reply.
Status BatchBuilder::StageMessage(Staged* staged) {
  EntryRecord& e = staged->entry;
  if (e.is_event) return Status::Ok();
  if (!e.media_id.empty() && !ValidId(e.media_id)) return BadRequest("invalid media_id");
  if (e.reply_to.empty()) return Status::Ok();
  Result<uint64_t> id = ParseMessageId(e.reply_to, "reply_to");
  if (!id.ok()) return id.status();
  if (staged->created) return NotFound(std::string("reply_to: ") + kNoSuchMessage);
  Result<EntryRecord> target = LoadMessage(staged->conversation.conversation_id, *id);
  if (!target.ok()) {
    if (target.status().code() != Code::kNotFound) return target.status();
    return NotFound(std::string("reply_to: ") + kNoSuchMessage);
  }
  Result<std::optional<MemberRecord>> sender = CurrentMember(*staged, e.sender);
  if (!sender.ok()) return sender.status();
  if (sender->has_value() && target->seq < (*sender)->joined_seq) {
    return NotFound(std::string("reply_to: ") + kNoSuchMessage);
  }
  if (target->deleted) return NotFound("reply_to: that message was deleted");
  e.reply_sender = target->sender;
  e.reply_preview = Preview(target->content);
  staged->reply_target = target->seq;
  return Status::Ok();
}

Result<AppendResult> BatchBuilder::AddChange(const AppendRequest& request, Staged staged) {
  const MessageChange& change = *request.change;
  const std::string& conv = staged.conversation.conversation_id;
  if (staged.created) return NotFound(kNoSuchMessage);
  MemberRecord actor;  // kCounts comes from the server: no actor
  if (change.op != MessageChange::Op::kCounts) {
    if (!ValidId(change.actor)) return BadRequest("invalid actor");
    Result<std::optional<MemberRecord>> member = CurrentMember(staged, change.actor);
    if (!member.ok()) return member.status();
    if (!member->has_value()) return Forbidden("not a member of this conversation");
    actor = std::move(**member);
  }
  Result<EntryRecord> target = LoadMessage(conv, change.message_id);
  if (!target.ok()) return target.status();
  if (target->seq < actor.joined_seq) return NotFound(kNoSuchMessage);
  if (change.op == MessageChange::Op::kHide) return AddHide(request, std::move(staged), *target);

  EntryRecord after = *target;
  Result<bool> changed = ChangeTarget(change, actor, staged.entry, &after);
  if (!changed.ok()) return changed.status();
  AppendResult result;
  if (!*changed) {  // nothing to do (a repeated reaction, an already deleted message)
    result.entry = std::move(staged.entry);
    result.entry.seq = 0;
    result.target = std::move(after);
    return result;
  }
  staged.entry.message_id = target->message_id;
  if (change.op == MessageChange::Op::kReact || change.op == MessageChange::Op::kCounts) {
    staged.entry.reactions = after.reactions;
  }
  if (change.op == MessageChange::Op::kDelete) {  // its edits and reply previews go with it
    std::string target_key = NumberKey(conv, target->seq);
    PARLEY_RETURN_IF_ERROR(
        ScrubRefs(conv, target_key, NumberKey(conv, target->seq + 1), target->seq));
  }
  bool stream = change.op != MessageChange::Op::kReact || change.stream_entry;
  if (stream) {
    result = Write(request, std::move(staged));
  } else {
    result.entry = std::move(staged.entry);
    StageIdempotency(request, result.entry);
  }
  StageTargetWrites(change, *target, after, result.entry.seq, &result);
  result.target = std::move(after);
  result.changed = true;
  wrote_ = true;
  return result;
}

// Checks `change` against the target and applies it to *target. False: a no-op.
Result<bool> BatchBuilder::ChangeTarget(const MessageChange& change, const MemberRecord& actor,
                                        const EntryRecord& event, EntryRecord* target) {
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
    case MessageChange::Op::kReact: {
      if (target->deleted) return NotFound("that message was deleted");
      Result<std::string> current =
          CurrentReaction(ReactionKey(target->conversation_id, target->seq, actor.user_id));
      if (!current.ok()) return current.status();
      if (*current == change.emoji) return false;
      Recount(target->reactions, *current, change.emoji);
      return true;
    }
    case MessageChange::Op::kCounts:
      if (target->deleted) return NotFound("that message was deleted");
      return true;
    case MessageChange::Op::kHide:
      break;  // handled by AddHide
  }
  return Internal("unknown message change");
}

void BatchBuilder::StageTargetWrites(const MessageChange& change, const EntryRecord& before,
                                     const EntryRecord& after, uint64_t event_seq,
                                     AppendResult* result) {
  const std::string& conv = after.conversation_id;
  switch (change.op) {
    case MessageChange::Op::kEdit: {
      std::string ref = RefKey(conv, after.seq, event_seq);  // scrubbed if the message goes
      batch_.Put(db_.refs, ref, "").PermitUncheckedError();
      refs_.insert(std::move(ref));
      break;
    }
    case MessageChange::Op::kDelete: {
      std::string target_key = NumberKey(conv, after.seq);
      batch_.DeleteRange(db_.reactions, KeyPrefix(target_key), KeyPrefixEnd(target_key))
          .PermitUncheckedError();
      if (!before.media_id.empty()) {
        batch_.Delete(db_.media_refs, MediaRefKey(before.media_id, conv, after.seq))
            .PermitUncheckedError();
        result->released_media.push_back(before.media_id);
      }
      break;
    }
    case MessageChange::Op::kReact: {
      std::string key = ReactionKey(conv, after.seq, change.actor);
      if (change.emoji.empty()) {
        batch_.Delete(db_.reactions, key).PermitUncheckedError();
      } else {
        batch_.Put(db_.reactions, key, change.emoji).PermitUncheckedError();
      }
      reactions_[std::move(key)] = change.emoji;
      break;
    }
    case MessageChange::Op::kCounts:
    case MessageChange::Op::kHide:
      return;  // the target does not change
  }
  PutEntry(after);
}

Result<AppendResult> BatchBuilder::AddHide(const AppendRequest& request, Staged staged,
                                           const EntryRecord& target) {
  ConversationRecord& conversation = staged.conversation;
  const std::string& actor = request.change->actor;
  std::string key = HiddenKey(conversation.conversation_id, actor, target.seq);
  AppendResult result;
  result.entry = std::move(staged.entry);
  result.entry.message_id = target.message_id;
  result.entry.seq = 0;
  result.target = target;
  bool staged_before = hidden_.count(key) > 0;
  Result<std::string> stored = GetValue(db_, db_.hidden, key, "hidden message");
  if (!stored.ok() && stored.status().code() != Code::kNotFound) return stored.status();
  if (staged_before || stored.ok()) return result;  // already hidden: a no-op
  HiddenRecord hidden{conversation.conversation_id,
                      actor,
                      target.seq,
                      target.message_id,
                      ++last_version_,
                      result.entry.ts};
  batch_.Put(db_.hidden, key, EncodeHidden(hidden)).PermitUncheckedError();
  hidden_.insert(std::move(key));
  conversation.last_version = hidden.version;  // the hider's sync finds it by version
  batch_.Put(db_.conversations, conversation.conversation_id, EncodeConversation(conversation))
      .PermitUncheckedError();
  conversations_[conversation.conversation_id] = conversation;
  StageIdempotency(request, result.entry);
  result.hidden = std::move(hidden);
  result.changed = true;
  wrote_ = true;
  return result;
}

Result<AppendResult> BatchBuilder::AddPurge(const AppendRequest& request, Staged staged) {
  const PurgeRequest& purge = *request.purge;
  ConversationRecord& conversation = staged.conversation;
  const std::string& id = conversation.conversation_id;
  if (staged.created) return NotFound("conversation not found");
  AppendResult result;
  if (purge.up_to_seq <= conversation.purged_seq) return result;  // done already
  if (purge.up_to_seq > conversation.last_seq) return BadRequest("purge beyond the last entry");
  for (const PurgedMessage& m : purge.messages) {
    if (m.seq > purge.up_to_seq) return BadRequest("purged message beyond up_to_seq");
  }
  Result<EntryRecord> last = LoadEntry(id, purge.up_to_seq);
  if (!last.ok()) return last.status();
  std::string end = NumberKey(id, purge.up_to_seq + 1);
  PARLEY_RETURN_IF_ERROR(ScrubRefs(id, KeyPrefix(id), end, purge.up_to_seq));
  // Seqs and versions of a conversation grow together, so both are prefixes.
  batch_.DeleteRange(db_.entries, KeyPrefix(id), end).PermitUncheckedError();
  batch_.DeleteRange(db_.versions, KeyPrefix(id), NumberKey(id, last->version + 1))
      .PermitUncheckedError();
  batch_.DeleteRange(db_.reactions, KeyPrefix(id), end).PermitUncheckedError();
  for (const PurgedMessage& m : purge.messages) {
    std::string key = NumberKey(id, m.message_id);
    batch_.Delete(db_.message_index, key).PermitUncheckedError();
    message_index_.erase(key);
    if (!m.media_id.empty() && ValidId(m.media_id)) {
      batch_.Delete(db_.media_refs, MediaRefKey(m.media_id, id, m.seq)).PermitUncheckedError();
      result.released_media.push_back(m.media_id);
    }
  }
  conversation.purged_seq = purge.up_to_seq;
  batch_.Put(db_.conversations, id, EncodeConversation(conversation)).PermitUncheckedError();
  conversations_[id] = conversation;
  purged_[id] = purge.up_to_seq;
  result.changed = true;
  wrote_ = true;
  return result;
}

// Entries that quote or edit messages in [lower, upper) of the refs family
// and lie above `keep_above` lose the copied content (an edit's text, a
// reply's preview); the refs themselves are dropped.
Status BatchBuilder::ScrubRefs(const std::string& conv, const std::string& lower,
                               const std::string& upper, uint64_t keep_above) {
  std::set<uint64_t> seqs;
  auto note = [&](std::string_view key) -> Status {
    Result<uint64_t> seq = DecodeBe64(key.substr(key.size() - 8));
    if (!seq.ok()) return seq.status();
    if (*seq > keep_above) seqs.insert(*seq);
    return Status::Ok();
  };
  for (auto it = refs_.lower_bound(lower); it != refs_.end() && *it < upper; ++it) {
    PARLEY_RETURN_IF_ERROR(note(*it));
  }
  rocksdb::Slice upper_bound(upper);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(options, db_.refs));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    if (it->key().size() < 8) return Internal("corrupt ref key");
    PARLEY_RETURN_IF_ERROR(note(it->key().ToStringView()));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan refs");
  std::vector<EntryRecord> scrubbed;
  for (uint64_t seq : seqs) {
    Result<EntryRecord> e = LoadEntry(conv, seq);
    if (!e.ok() && e.status().code() == Code::kNotFound) continue;
    if (!e.ok()) return e.status();
    if (e->is_event) {
      e->content.clear();  // an edit's text
      e->deleted = true;
    } else {
      e->reply_preview.clear();
    }
    scrubbed.push_back(std::move(*e));
  }
  for (const EntryRecord& e : scrubbed) PutEntry(e);
  batch_.DeleteRange(db_.refs, lower, upper).PermitUncheckedError();
  refs_.erase(refs_.lower_bound(lower), refs_.lower_bound(upper));
  return Status::Ok();
}

Result<EntryRecord> BatchBuilder::LoadMessage(const std::string& conv, uint64_t message_id) {
  std::string key = NumberKey(conv, message_id);
  uint64_t seq = 0;
  if (auto it = message_index_.find(key); it != message_index_.end()) {
    seq = it->second;
  } else {
    Result<std::string> value = GetValue(db_, db_.message_index, key, "message");
    if (!value.ok()) {
      if (value.status().code() == Code::kNotFound) return NotFound(kNoSuchMessage);
      return value.status();
    }
    Result<uint64_t> decoded = DecodeBe64(*value);
    if (!decoded.ok()) return decoded.status();
    seq = *decoded;
  }
  if (auto p = purged_.find(conv); p != purged_.end() && seq <= p->second) {
    return NotFound(kNoSuchMessage);
  }
  Result<EntryRecord> entry = LoadEntry(conv, seq);
  if (!entry.ok() && entry.status().code() == Code::kNotFound) return NotFound(kNoSuchMessage);
  if (entry.ok() && entry->is_event) return NotFound(kNoSuchMessage);
  return entry;
}

Result<EntryRecord> BatchBuilder::LoadEntry(const std::string& conv, uint64_t seq) {
  std::string key = NumberKey(conv, seq);
  if (auto it = entries_.find(key); it != entries_.end()) return it->second;
  Result<std::string> value = GetValue(db_, db_.entries, key, "entry");
  if (!value.ok()) return value.status();
  return DecodeEntry(*value);
}

void BatchBuilder::PutEntry(const EntryRecord& entry) {
  std::string key = NumberKey(entry.conversation_id, entry.seq);
  batch_.Put(db_.entries, key, EncodeEntry(entry)).PermitUncheckedError();
  entries_[std::move(key)] = entry;
}

Result<std::string> BatchBuilder::CurrentReaction(const std::string& key) {
  if (auto it = reactions_.find(key); it != reactions_.end()) return it->second;
  Result<std::string> value = GetValue(db_, db_.reactions, key, "reaction");
  if (value.ok() || value.status().code() != Code::kNotFound) return value;
  return std::string();
}

}  // namespace parley::store
