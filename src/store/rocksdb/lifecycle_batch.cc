// The message lifecycle inside one group commit: replies, edits, deletes,
// reactions, hides and retention purges. Each is checked against the
// committed state plus what the batch staged before it, like every append,
// so a change and the event that records it commit atomically and in seq order.
#include <rocksdb/iterator.h>

#include <algorithm>
#include <memory>

#include "common/ids.h"
#include "store/records.h"
#include "store/rocksdb/batch_builder.h"

namespace parley::store {
namespace {

constexpr char kNoSuchMessage[] = "no such message in this conversation";

}  // namespace

// A message's reply_to: the quoted message must be one the sender can see;
// its sender and a preview are copied into the reply.
Status BatchBuilder::StageMessage(Staged* staged) {
  EntryRecord& e = staged->entry;
  if (e.is_event || e.reply_to.empty()) return Status::Ok();
  Result<uint64_t> id = ParseMessageId(e.reply_to, "reply_to");
  if (!id.ok()) return id.status();
  if (staged->created) return NotFound(std::string("reply_to: ") + kNoSuchMessage);
  Result<EntryRecord> target = LoadMessage(staged->conversation.conversation_id, *id);
  if (!target.ok()) {
    if (target.status().code() != Code::kNotFound) return target.status();
    return NotFound(std::string("reply_to: ") + kNoSuchMessage);
  }
  Result<std::optional<MemberRecord>> sender = Member(*staged, e.sender);
  if (!sender.ok()) return sender.status();
  if (sender->has_value() && target->seq < (*sender)->joined_seq) {
    return NotFound(std::string("reply_to: ") + kNoSuchMessage);
  }
  if (target->deleted) return NotFound("reply_to: that message was deleted");
  e.reply_sender = target->sender;
  e.reply_preview = ReplyPreview(target->content);
  staged->reply_target = target->seq;
  return Status::Ok();
}

Result<AppendResult> BatchBuilder::AddChange(const AppendRequest& request, Staged staged) {
  const MessageChange& change = *request.change;
  const std::string conv = staged.conversation.conversation_id;  // a copy: staged moves below
  if (staged.created) return NotFound(kNoSuchMessage);
  MemberRecord actor;  // kCounts comes from the server: no actor
  if (change.op != MessageChange::Op::kCounts) {
    if (!ValidId(change.actor)) return BadRequest("invalid actor");
    Result<std::optional<MemberRecord>> member = Member(staged, change.actor);
    if (!member.ok()) return member.status();
    if (!member->has_value()) return Forbidden("not a member of this conversation");
    actor = std::move(**member);
  }
  Result<EntryRecord> target = LoadMessage(conv, change.message_id);
  if (!target.ok()) return target.status();
  if (target->seq < actor.joined_seq) return NotFound(kNoSuchMessage);
  if (change.op == MessageChange::Op::kHide) return AddHide(request, std::move(staged), *target);

  std::string reaction;  // the actor's current reaction
  if (change.op == MessageChange::Op::kReact) {
    Result<std::string> current = CurrentReaction(ReactionKey(conv, target->seq, actor.user_id));
    if (!current.ok()) return current.status();
    reaction = std::move(*current);
  }
  EntryRecord after = *target;
  Result<bool> changed = ChangeTarget(change, actor, staged.entry, reaction, &after);
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
  std::optional<MediaDrop> media;  // read before anything is staged
  if (change.op == MessageChange::Op::kDelete && !target->media_id.empty()) {
    Result<MediaDrop> drop = PlanMediaDrop(conv, target->media_id, {target->seq});
    if (!drop.ok()) return drop.status();
    media = std::move(*drop);
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
  if (media) ApplyMediaDrop(conv, *media, &result);
  result.target = std::move(after);
  result.changed = true;
  wrote_ = true;
  return result;
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
  std::map<std::string, std::set<uint64_t>> media_seqs;  // media id -> purged messages carrying it
  for (const PurgedMessage& m : purge.messages) {
    if (!m.media_id.empty() && ValidId(m.media_id)) media_seqs[m.media_id].insert(m.seq);
  }
  std::vector<MediaDrop> drops;  // read before anything is staged
  for (auto& [media_id, seqs] : media_seqs) {
    Result<MediaDrop> drop = PlanMediaDrop(id, media_id, std::move(seqs));
    if (!drop.ok()) return drop.status();
    drops.push_back(std::move(*drop));
  }
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
  }
  for (const MediaDrop& drop : drops) ApplyMediaDrop(id, drop, &result);
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
    ScrubCopiedContent(&*e);
    scrubbed.push_back(std::move(*e));
  }
  for (const EntryRecord& e : scrubbed) PutEntry(e);
  batch_.DeleteRange(db_.refs, lower, upper).PermitUncheckedError();
  refs_.erase(refs_.lower_bound(lower), refs_.lower_bound(upper));
  return Status::Ok();
}

Result<BatchBuilder::MediaDrop> BatchBuilder::PlanMediaDrop(const std::string& conv,
                                                            const std::string& media_id,
                                                            std::set<uint64_t> seqs) {
  MediaDrop drop;
  drop.media_id = media_id;
  drop.seqs = std::move(seqs);
  // The latest message of conv that still carries the media, if any.
  std::string prefix = KeyPrefix(PairKey(media_id, conv));
  uint64_t latest = 0;
  auto consider = [&](std::string_view key) -> Status {
    Result<uint64_t> seq = NumberFromKey(key);
    if (!seq.ok()) return seq.status();
    if (!drop.seqs.count(*seq)) latest = std::max(latest, *seq);
    return Status::Ok();
  };
  for (auto it = media_messages_.lower_bound(prefix);
       it != media_messages_.end() && it->first.starts_with(prefix); ++it) {
    if (it->second) PARLEY_RETURN_IF_ERROR(consider(it->first));
  }
  std::string upper = KeyPrefixEnd(PairKey(media_id, conv));
  rocksdb::Slice upper_bound(upper);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(options, db_.media_messages));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    auto staged = media_messages_.find(it->key().ToString());
    if (staged == media_messages_.end() || staged->second) {
      PARLEY_RETURN_IF_ERROR(consider(it->key().ToStringView()));
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan media messages");

  std::string ref_key = PairKey(media_id, conv);
  std::optional<MediaRefRecord> ref;
  if (auto staged = media_refs_.find(ref_key); staged != media_refs_.end()) {
    ref = staged->second;
  } else if (Result<std::string> value = GetValue(db_, db_.media_refs, ref_key, "media ref");
             value.ok()) {
    Result<MediaRefRecord> decoded = DecodeMediaRef(*value);
    if (!decoded.ok()) return decoded.status();
    ref = std::move(*decoded);
  } else if (value.status().code() != Code::kNotFound) {
    return value.status();
  }
  if (latest != 0) {  // readers of that message keep access; later joiners no longer
    if (ref && ref->seq != latest) {
      ref->seq = latest;
      drop.rewrite = std::move(ref);
    }
    return drop;
  }
  drop.drop_ref = ref.has_value();
  // Does any other conversation still carry it?
  std::string media_prefix = KeyPrefix(media_id);
  for (auto s = media_refs_.lower_bound(media_prefix);
       s != media_refs_.end() && s->first.starts_with(media_prefix); ++s) {
    if (s->first != ref_key && s->second) return drop;
  }
  std::string media_upper = KeyPrefixEnd(media_id);
  rocksdb::Slice media_bound(media_upper);
  options.iterate_upper_bound = &media_bound;
  std::unique_ptr<rocksdb::Iterator> refs(db_.db->NewIterator(options, db_.media_refs));
  for (refs->Seek(media_prefix); refs->Valid(); refs->Next()) {
    std::string key = refs->key().ToString();
    auto staged = media_refs_.find(key);
    if (key != ref_key && (staged == media_refs_.end() || staged->second)) return drop;
  }
  if (!refs->status().ok()) return FromRocks(refs->status(), "scan media refs");
  Result<std::string> value = GetValue(db_, db_.media, media_id, "media");
  if (value.ok()) {
    Result<MediaRecord> media = DecodeMedia(*value);
    if (!media.ok()) return media.status();
    drop.unreferenced_key = UnreferencedMediaKey(media->created_at, media_id);
  } else if (value.status().code() != Code::kNotFound) {
    return value.status();
  }
  return drop;
}

void BatchBuilder::ApplyMediaDrop(const std::string& conv, const MediaDrop& drop,
                                  AppendResult* result) {
  for (uint64_t seq : drop.seqs) {
    std::string key = MediaMessageKey(drop.media_id, conv, seq);
    batch_.Delete(db_.media_messages, key).PermitUncheckedError();
    media_messages_[std::move(key)] = false;
  }
  std::string ref_key = PairKey(drop.media_id, conv);
  if (drop.rewrite) {
    batch_.Put(db_.media_refs, ref_key, EncodeMediaRef(*drop.rewrite)).PermitUncheckedError();
    media_refs_[ref_key] = drop.rewrite;
  }
  if (drop.drop_ref) {
    batch_.Delete(db_.media_refs, ref_key).PermitUncheckedError();
    media_refs_[ref_key] = std::nullopt;
  }
  if (!drop.unreferenced_key.empty()) {  // the media GC deletes it after --media-gc-age
    batch_.Put(db_.media_unreferenced, drop.unreferenced_key, "").PermitUncheckedError();
  }
  if (drop.drop_ref) result->released_media.push_back(drop.media_id);
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
