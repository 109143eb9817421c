// The message lifecycle inside the committer's transaction: replies, edits,
// deletes, reactions, hides and retention purges, with the same rules as the
// RocksDB batch (store/rocksdb/lifecycle_batch.cc).
#include <algorithm>

#include "common/ids.h"
#include "store/postgres/append_tx.h"
#include "store/records.h"

namespace parley::store::pg {
namespace {

constexpr char kNoSuchMessage[] = "no such message in this conversation";

}  // namespace

Status AppendTx::StageMessage(Staged* staged) {
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

Result<AppendResult> AppendTx::AddChange(const AppendRequest& request, Staged staged) {
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
    Result<std::optional<std::string>> current = Body(
        "SELECT emoji FROM reactions WHERE conversation_id = $1 AND seq = $2 AND user_id = $3",
        {Text(conv), U64(target->seq), Text(actor.user_id)});
    if (!current.ok()) return current.status();
    reaction = current->value_or("");
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
  std::optional<MediaDrop> media;  // planned on the state before the delete
  if (change.op == MessageChange::Op::kDelete && !target->media_id.empty()) {
    Result<MediaDrop> drop = PlanMediaDrop(conv, target->media_id, {target->seq});
    if (!drop.ok()) return drop.status();
    media = std::move(*drop);
  }
  if (change.op == MessageChange::Op::kDelete) {  // its edits and reply previews go with it
    PARLEY_RETURN_IF_ERROR(ScrubRefs(conv, target->seq, target->seq, target->seq));
  }
  bool stream = change.op != MessageChange::Op::kReact || change.stream_entry;
  if (stream) {
    Result<AppendResult> written = Write(request, std::move(staged));
    if (!written.ok()) return written.status();
    result = std::move(*written);
  } else {
    result.entry = std::move(staged.entry);
    PARLEY_RETURN_IF_ERROR(PutIdempotency(request, result.entry));
  }
  PARLEY_RETURN_IF_ERROR(WriteTarget(change, after, result.entry.seq));
  if (media) PARLEY_RETURN_IF_ERROR(ApplyMediaDrop(conv, *media, &result));
  result.target = std::move(after);
  result.changed = true;
  return result;
}

Status AppendTx::WriteTarget(const MessageChange& change, const EntryRecord& after,
                             uint64_t event_seq) {
  const std::string& conv = after.conversation_id;
  switch (change.op) {
    case MessageChange::Op::kEdit:  // scrubbed if the message goes
      PARLEY_RETURN_IF_ERROR(
          Do("INSERT INTO refs (conversation_id, target_seq, seq) VALUES ($1, $2, $3)",
             {Text(conv), U64(after.seq), U64(event_seq)}));
      break;
    case MessageChange::Op::kDelete:
      PARLEY_RETURN_IF_ERROR(Do("DELETE FROM reactions WHERE conversation_id = $1 AND seq = $2",
                                {Text(conv), U64(after.seq)}));
      break;
    case MessageChange::Op::kReact:
      if (change.emoji.empty()) {
        PARLEY_RETURN_IF_ERROR(
            Do("DELETE FROM reactions WHERE conversation_id = $1 AND seq = $2 AND user_id = $3",
               {Text(conv), U64(after.seq), Text(change.actor)}));
      } else {
        PARLEY_RETURN_IF_ERROR(
            Do("INSERT INTO reactions (conversation_id, seq, user_id, emoji) "
               "VALUES ($1, $2, $3, $4) ON CONFLICT (conversation_id, seq, user_id) "
               "DO UPDATE SET emoji = EXCLUDED.emoji",
               {Text(conv), U64(after.seq), Text(change.actor), Text(change.emoji)}));
      }
      break;
    case MessageChange::Op::kCounts:
    case MessageChange::Op::kHide:
      return Status::Ok();  // the target does not change
  }
  return PutEntry(after);
}

Result<AppendResult> AppendTx::AddHide(const AppendRequest& request, Staged staged,
                                       const EntryRecord& target) {
  ConversationRecord& conversation = staged.conversation;
  const std::string& actor = request.change->actor;
  AppendResult result;
  result.entry = std::move(staged.entry);
  result.entry.message_id = target.message_id;
  result.entry.seq = 0;
  result.target = target;
  Result<std::optional<std::string>> stored = Body(
      "SELECT body FROM hidden WHERE conversation_id = $1 AND user_id = $2 AND seq = $3",
      {Text(conversation.conversation_id), Text(actor), U64(target.seq)});
  if (!stored.ok()) return stored.status();
  if (stored->has_value()) return result;  // already hidden: a no-op
  HiddenRecord hidden{conversation.conversation_id,
                      actor,
                      target.seq,
                      target.message_id,
                      ++last_version_,
                      result.entry.ts};
  PARLEY_RETURN_IF_ERROR(
      Do("INSERT INTO hidden (conversation_id, user_id, seq, body) VALUES ($1, $2, $3, $4)",
         {Text(hidden.conversation_id), Text(actor), U64(hidden.seq),
          Bytes(EncodeHidden(hidden))}));
  conversation.last_version = hidden.version;  // the hider's sync finds it by version
  PARLEY_RETURN_IF_ERROR(PutConversation(conversation));
  PARLEY_RETURN_IF_ERROR(PutIdempotency(request, result.entry));
  result.hidden = std::move(hidden);
  result.changed = true;
  return result;
}

Result<AppendResult> AppendTx::AddPurge(const AppendRequest& request, Staged staged) {
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
  std::vector<MediaDrop> drops;  // planned on the state before the purge
  for (auto& [media_id, seqs] : media_seqs) {
    Result<MediaDrop> drop = PlanMediaDrop(id, media_id, std::move(seqs));
    if (!drop.ok()) return drop.status();
    drops.push_back(std::move(*drop));
  }
  PARLEY_RETURN_IF_ERROR(ScrubRefs(id, 0, purge.up_to_seq, purge.up_to_seq));
  for (std::string_view table : {"entries", "reactions"}) {
    PARLEY_RETURN_IF_ERROR(Do("DELETE FROM " + std::string(table) +
                                  " WHERE conversation_id = $1 AND seq <= $2",
                              {Text(id), U64(purge.up_to_seq)}));
  }
  for (const MediaDrop& drop : drops) PARLEY_RETURN_IF_ERROR(ApplyMediaDrop(id, drop, &result));
  conversation.purged_seq = purge.up_to_seq;
  PARLEY_RETURN_IF_ERROR(PutConversation(conversation));
  result.changed = true;
  return result;
}

// Entries that quote or edit messages with min_target <= seq <= max_target
// and lie above `keep_above` lose the copied content (an edit's text, a
// reply's preview); the refs themselves are dropped.
Status AppendTx::ScrubRefs(const std::string& conv, uint64_t min_target, uint64_t max_target,
                           uint64_t keep_above) {
  Result<Rows> refs = Returning(
      "DELETE FROM refs WHERE conversation_id = $1 AND target_seq BETWEEN $2 AND $3 "
      "RETURNING seq",
      {Text(conv), U64(min_target), U64(max_target)});
  if (!refs.ok()) return refs.status();
  std::set<uint64_t> seqs;
  for (int i = 0; i < refs->size(); ++i) {
    if (refs->U64(i, 0) > keep_above) seqs.insert(refs->U64(i, 0));
  }
  for (uint64_t seq : seqs) {
    Result<EntryRecord> e = LoadEntry(conv, seq);
    if (!e.ok() && e.status().code() == Code::kNotFound) continue;
    if (!e.ok()) return e.status();
    ScrubCopiedContent(&*e);
    PARLEY_RETURN_IF_ERROR(PutEntry(*e));
  }
  return Status::Ok();
}

Result<AppendTx::MediaDrop> AppendTx::PlanMediaDrop(const std::string& conv,
                                                    const std::string& media_id,
                                                    std::set<uint64_t> seqs) {
  MediaDrop drop;
  drop.media_id = media_id;
  drop.seqs = std::move(seqs);
  Result<Rows> carriers =
      Query("SELECT seq FROM media_messages WHERE media_id = $1 AND conversation_id = $2",
                 {Text(media_id), Text(conv)});
  if (!carriers.ok()) return carriers.status();
  uint64_t latest = 0;  // the latest message of conv that still carries the media
  for (int i = 0; i < carriers->size(); ++i) {
    uint64_t seq = carriers->U64(i, 0);
    if (!drop.seqs.count(seq)) latest = std::max(latest, seq);
  }
  Result<std::optional<std::string>> body =
      Body("SELECT body FROM media_refs WHERE media_id = $1 AND conversation_id = $2",
           {Text(media_id), Text(conv)});
  if (!body.ok()) return body.status();
  std::optional<MediaRefRecord> ref;
  if (body->has_value()) {
    Result<MediaRefRecord> decoded = DecodeMediaRef(**body);
    if (!decoded.ok()) return decoded.status();
    ref = std::move(*decoded);
  }
  if (latest != 0) {  // readers of that message keep access; later joiners no longer
    if (ref && ref->seq != latest) {
      ref->seq = latest;
      drop.rewrite = std::move(ref);
    }
    return drop;
  }
  drop.drop_ref = ref.has_value();
  Result<Rows> others = Query(
      "SELECT 1 FROM media_refs WHERE media_id = $1 AND conversation_id <> $2 LIMIT 1",
      {Text(media_id), Text(conv)});
  if (!others.ok()) return others.status();
  drop.unreferenced = others->empty();
  return drop;
}

Status AppendTx::ApplyMediaDrop(const std::string& conv, const MediaDrop& drop,
                                AppendResult* result) {
  for (uint64_t seq : drop.seqs) {
    PARLEY_RETURN_IF_ERROR(Do(
        "DELETE FROM media_messages WHERE media_id = $1 AND conversation_id = $2 AND seq = $3",
        {Text(drop.media_id), Text(conv), U64(seq)}));
  }
  if (drop.rewrite) {
    PARLEY_RETURN_IF_ERROR(
        Do("UPDATE media_refs SET body = $3 WHERE media_id = $1 AND conversation_id = $2",
           {Text(drop.media_id), Text(conv), Bytes(EncodeMediaRef(*drop.rewrite))}));
  }
  if (drop.drop_ref) {
    PARLEY_RETURN_IF_ERROR(Do("DELETE FROM media_refs WHERE media_id = $1 AND conversation_id = $2",
                              {Text(drop.media_id), Text(conv)}));
    result->released_media.push_back(drop.media_id);
  }
  if (drop.unreferenced) {  // the media GC deletes it after --media-gc-age
    PARLEY_RETURN_IF_ERROR(
        Do("UPDATE media SET unreferenced = true WHERE media_id = $1", {Text(drop.media_id)}));
  }
  return Status::Ok();
}

Result<EntryRecord> AppendTx::LoadMessage(const std::string& conv, uint64_t message_id) {
  Result<std::optional<std::string>> body =
      Body("SELECT body FROM entries WHERE conversation_id = $1 AND message_id = $2",
           {Text(conv), U64(message_id)});
  if (!body.ok()) return body.status();
  if (!body->has_value()) return NotFound(kNoSuchMessage);
  return DecodeEntry(**body);
}

Result<EntryRecord> AppendTx::LoadEntry(const std::string& conv, uint64_t seq) {
  Result<std::optional<std::string>> body = Body(
      "SELECT body FROM entries WHERE conversation_id = $1 AND seq = $2", {Text(conv), U64(seq)});
  if (!body.ok()) return body.status();
  if (!body->has_value()) return NotFound("entry not found");
  return DecodeEntry(**body);
}

Status AppendTx::PutEntry(const EntryRecord& entry) {
  return Do("UPDATE entries SET body = $3 WHERE conversation_id = $1 AND seq = $2",
            {Text(entry.conversation_id), U64(entry.seq), Bytes(EncodeEntry(entry))});
}

}  // namespace parley::store::pg
