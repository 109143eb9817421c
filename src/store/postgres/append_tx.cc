#include "store/postgres/append_tx.h"

#include <algorithm>

#include "store/records.h"

namespace parley::store::pg {

namespace {

constexpr std::string_view kConversationSql =
    "SELECT body FROM conversations WHERE conversation_id = $1 FOR UPDATE";
constexpr std::string_view kMemberSql =
    "SELECT body FROM members WHERE conversation_id = $1 AND user_id = $2";
constexpr std::string_view kIdempotencySql =
    "SELECT body FROM idempotency WHERE sender = $1 AND client_msg_id = $2";

bool Same(const Statement& s, std::string_view sql, const std::vector<Param>& params) {
  if (s.sql != sql || s.params.size() != params.size()) return false;
  for (size_t i = 0; i < params.size(); ++i) {
    if (s.params[i].value != params[i].value || s.params[i].type != params[i].type) return false;
  }
  return true;
}

}  // namespace

void AppendTx::Queue(std::string sql, std::vector<Param> params) {
  queued_.push_back({std::move(sql), std::move(params)});
}

Result<std::vector<Rows>> AppendTx::Send() {
  Result<std::vector<Rows>> done = conn_.Pipeline(queued_);
  queued_.clear();
  if (!done.ok()) statement_failed_ = true;
  return done;
}

Status AppendTx::Flush() {
  if (queued_.empty()) return Status::Ok();
  Result<std::vector<Rows>> done = Send();
  return done.ok() ? Status::Ok() : done.status();
}

Status AppendTx::LockCounter() {
  // The counter row lock orders the transactions of every server: versions
  // rise in commit order across all of them, as sync cursors require.
  Result<Rows> counter = Query("SELECT last_version FROM store_meta WHERE id = 1 FOR UPDATE", {});
  if (!counter.ok()) return counter.status();
  if (counter->empty()) return Internal("postgres: store_meta has no counter row");
  first_version_ = last_version_ = counter->U64(0, 0);
  return Status::Ok();
}

Result<Rows> AppendTx::Query(std::string_view sql, const std::vector<Param>& params) {
  for (auto it = read_ahead_.begin(); it != read_ahead_.end(); ++it) {
    if (Same(it->first, sql, params)) {
      Rows rows = std::move(it->second);
      read_ahead_.erase(it);
      return rows;
    }
  }
  queued_.push_back({std::string(sql), params});
  Result<std::vector<Rows>> done = Send();
  if (!done.ok()) return done.status();
  return std::move(done->back());
}

Result<std::optional<std::string>> AppendTx::Body(std::string_view sql,
                                                  const std::vector<Param>& params) {
  Result<Rows> rows = Query(sql, params);
  if (!rows.ok()) return rows.status();
  std::optional<std::string> out;
  if (!rows->empty()) out.emplace(rows->Str(0, 0));
  return out;
}

Status AppendTx::Do(std::string_view sql, const std::vector<Param>& params) {
  read_ahead_.clear();  // what was read ahead may change now
  wrote_ = true;
  Queue(std::string(sql), params);
  return Status::Ok();
}

Result<Rows> AppendTx::Returning(std::string_view sql, const std::vector<Param>& params) {
  read_ahead_.clear();
  wrote_ = true;
  return Query(sql, params);
}

Status AppendTx::ReadAhead(const AppendRequest& request) {
  const std::string& id = request.entry.conversation_id;
  std::vector<Statement> reads = {{std::string(kConversationSql), {Text(id)}}};
  for (const std::string* user : {&request.require_member, &request.require_admin}) {
    if (ValidId(*user)) reads.push_back({std::string(kMemberSql), {Text(id), Text(*user)}});
  }
  const EntryRecord& e = request.entry;
  if (request.idempotent && ValidId(e.sender) && ValidId(e.client_msg_id)) {
    reads.push_back({std::string(kIdempotencySql), {Text(e.sender), Text(e.client_msg_id)}});
  }
  size_t first = queued_.size();
  queued_.insert(queued_.end(), reads.begin(), reads.end());
  Result<std::vector<Rows>> done = Send();
  if (!done.ok()) return done.status();
  for (size_t i = 0; i < reads.size(); ++i) {
    read_ahead_.emplace_back(std::move(reads[i]), std::move((*done)[first + i]));
  }
  return Status::Ok();
}

Result<AppendResult> AppendTx::Add(const AppendRequest& request) {
  wrote_ = statement_failed_ = false;
  read_ahead_.clear();
  if (ValidId(request.entry.conversation_id)) PARLEY_RETURN_IF_ERROR(ReadAhead(request));
  Staged staged;
  PARLEY_RETURN_IF_ERROR(LoadConversation(request, &staged));
  PARLEY_RETURN_IF_ERROR(CheckAccess(request, staged, Members(staged)));
  if (request.receipt) return AddReceipt(request, std::move(staged));
  if (request.purge) return AddPurge(request, std::move(staged));
  staged.entry = request.entry;
  if (request.idempotent) {
    Result<std::optional<IdempotencyRecord>> duplicate = FindDuplicate(request);
    if (!duplicate.ok()) return duplicate.status();
    if (duplicate->has_value()) {
      AppendResult result;
      result.entry = request.entry;  // not stored: the original is duplicate_of
      result.duplicate_of = std::move(**duplicate);
      return result;
    }
  }
  if (request.change) return AddChange(request, std::move(staged));
  PARLEY_RETURN_IF_ERROR(LoadMedia(request, &staged));
  PARLEY_RETURN_IF_ERROR(StageMessage(&staged));
  PARLEY_RETURN_IF_ERROR(StageMembership(request, &staged, Members(staged)));
  if (request.promote_if_no_admin) PARLEY_RETURN_IF_ERROR(StagePromotion(&staged));
  return Write(request, std::move(staged));
}

// Locks the conversation row: writers of one conversation (in any server)
// queue here, so last_seq + 1 is the next seq, without gaps.
Status AppendTx::LoadConversation(const AppendRequest& request, Staged* staged) {
  const std::string& id = request.entry.conversation_id;
  if (!ValidId(id)) return BadRequest("invalid conversation id");
  Result<std::optional<std::string>> body = Body(kConversationSql, {Text(id)});
  if (!body.ok()) return body.status();
  if (body->has_value()) {
    Result<ConversationRecord> record = DecodeConversation(**body);
    if (!record.ok()) return record.status();
    staged->conversation = std::move(*record);
  } else if (!request.create_if_missing) {
    return NotFound("conversation not found");
  } else {
    staged->conversation = *request.create_if_missing;
    staged->conversation.conversation_id = id;
    staged->conversation.last_seq = 0;
    staged->conversation.last_version = 0;
    staged->conversation.member_count = 0;
    staged->created = true;
  }
  staged->seq = staged->conversation.last_seq + 1;
  return Status::Ok();
}

StoredMember AppendTx::Members(const Staged& staged) {
  return [this, &staged](const std::string& user_id) -> Result<std::optional<MemberRecord>> {
    Result<std::optional<std::string>> body =
        Body(kMemberSql, {Text(staged.conversation.conversation_id), Text(user_id)});
    if (!body.ok()) return body.status();
    std::optional<MemberRecord> found;
    if (!body->has_value()) return found;
    Result<MemberRecord> record = DecodeMember(**body);
    if (!record.ok()) return record.status();
    found = std::move(*record);
    return found;
  };
}

Result<std::optional<IdempotencyRecord>> AppendTx::FindDuplicate(const AppendRequest& request) {
  const EntryRecord& entry = request.entry;
  std::optional<IdempotencyRecord> found;
  if (entry.client_msg_id.empty()) return found;  // nothing to match on
  if (!ValidId(entry.sender)) return BadRequest("invalid sender");
  // No race with a retry of the same send: appends hold the version lock.
  Result<std::optional<std::string>> body =
      Body(kIdempotencySql, {Text(entry.sender), Text(entry.client_msg_id)});
  if (!body.ok()) return body.status();
  if (body->has_value()) {
    Result<IdempotencyRecord> record = DecodeIdempotency(**body);
    if (!record.ok()) return record.status();
    found = std::move(*record);
  }
  if (found && !WithinIdempotencyWindow(request, *found)) found.reset();
  return found;
}

Status AppendTx::StagePromotion(Staged* staged) {
  return store::StagePromotion(staged, [&](const auto& visit) -> Status {
    Result<Rows> rows = Query("SELECT body FROM members WHERE conversation_id = $1 AND current",
                              {Text(staged->conversation.conversation_id)});
    if (!rows.ok()) return rows.status();
    for (int i = 0; i < rows->size(); ++i) {
      Result<MemberRecord> member = DecodeMember(rows->Str(i, 0));
      if (!member.ok()) return member.status();
      if (!visit(*member)) break;
    }
    return Status::Ok();
  });
}

// The media row is share-locked: DeleteUnreferencedMedia (which locks it
// for update) either deleted it before, or waits until this reference commits.
Status AppendTx::LoadMedia(const AppendRequest& request, Staged* staged) {
  const EntryRecord& entry = request.entry;
  if (entry.is_event || entry.media_id.empty()) return Status::Ok();
  if (!ValidId(entry.media_id)) return BadRequest("invalid media id");
  Result<std::optional<std::string>> body =
      Body("SELECT body FROM media WHERE media_id = $1 FOR SHARE", {Text(entry.media_id)});
  if (!body.ok()) return body.status();
  if (!body->has_value()) return Forbidden("no such media");
  Result<MediaRecord> media = DecodeMedia(**body);
  if (!media.ok()) return media.status();
  staged->media = std::move(*media);
  return Status::Ok();
}

Status AppendTx::PutConversation(const ConversationRecord& c) {
  return Do(
      "INSERT INTO conversations (conversation_id, last_seq, body) VALUES ($1, $2, $3) "
      "ON CONFLICT (conversation_id) DO UPDATE SET last_seq = EXCLUDED.last_seq, body = "
      "EXCLUDED.body",
      {Text(c.conversation_id), U64(c.last_seq), Bytes(EncodeConversation(c))});
}

Result<AppendResult> AppendTx::Write(const AppendRequest& request, Staged staged) {
  ConversationRecord& conversation = staged.conversation;
  const std::string& id = conversation.conversation_id;
  AppendResult result;
  result.conversation_created = staged.created;
  result.entry = std::move(staged.entry);
  EntryRecord& entry = result.entry;
  entry.seq = staged.seq;
  entry.version = ++last_version_;
  entry.promoted = staged.promoted;
  bool indexed = !entry.is_event && entry.message_id != 0;  // lifecycle changes find it by id
  Param message_id = U64(entry.message_id);
  message_id.null = !indexed;
  PARLEY_RETURN_IF_ERROR(
      Do("INSERT INTO entries (conversation_id, seq, version, message_id, body) "
         "VALUES ($1, $2, $3, $4, $5)",
         {Text(id), U64(entry.seq), U64(entry.version), message_id, Bytes(EncodeEntry(entry))}));
  if (request.push_outbox) {
    PARLEY_RETURN_IF_ERROR(Do("INSERT INTO push_outbox (conversation_id, seq) VALUES ($1, $2)",
                              {Text(id), U64(entry.seq)}));
  }
  if (staged.media) {
    MediaRefRecord ref{entry.media_id, id, entry.seq, entry.ts};
    PARLEY_RETURN_IF_ERROR(
        Do("INSERT INTO media_refs (media_id, conversation_id, body) VALUES ($1, $2, $3) "
           "ON CONFLICT (media_id, conversation_id) DO UPDATE SET body = EXCLUDED.body",
           {Text(entry.media_id), Text(id), Bytes(EncodeMediaRef(ref))}));
    PARLEY_RETURN_IF_ERROR(Do("UPDATE media SET unreferenced = false WHERE media_id = $1",
                              {Text(entry.media_id)}));
  }
  if (indexed && !entry.media_id.empty()) {
    PARLEY_RETURN_IF_ERROR(
        Do("INSERT INTO media_messages (media_id, conversation_id, seq) VALUES ($1, $2, $3)",
           {Text(entry.media_id), Text(id), U64(entry.seq)}));
  }
  if (indexed && staged.reply_target != 0) {
    PARLEY_RETURN_IF_ERROR(
        Do("INSERT INTO refs (conversation_id, target_seq, seq) VALUES ($1, $2, $3)",
           {Text(id), U64(staged.reply_target), U64(entry.seq)}));
  }
  PARLEY_RETURN_IF_ERROR(PutIdempotency(request, entry));
  for (const auto& [user_id, member] : staged.members) {
    PARLEY_RETURN_IF_ERROR(
        Do("INSERT INTO members (conversation_id, user_id, current, body) VALUES ($1, $2, $3, $4) "
           "ON CONFLICT (conversation_id, user_id) DO UPDATE SET current = EXCLUDED.current, "
           "body = EXCLUDED.body",
           {Text(id), Text(user_id), Bool(member.current()), Bytes(EncodeMember(member))}));
  }
  if (request.set_name) conversation.name = *request.set_name;
  if (request.set_posting) conversation.posting = *request.set_posting;
  if (request.set_disappear_after_s) {
    conversation.disappear_after_s = *request.set_disappear_after_s;
  }
  conversation.last_seq = staged.seq;
  conversation.last_version = entry.version;
  PARLEY_RETURN_IF_ERROR(PutConversation(conversation));
  return result;
}

Status AppendTx::PutIdempotency(const AppendRequest& request, const EntryRecord& entry) {
  if (!request.idempotent || entry.client_msg_id.empty()) return Status::Ok();
  IdempotencyRecord record{entry.sender,     entry.client_msg_id, entry.conversation_id,
                           entry.message_id, entry.seq,           entry.ts};
  return Do(
      "INSERT INTO idempotency (sender, client_msg_id, ts, body) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (sender, client_msg_id) DO UPDATE SET ts = EXCLUDED.ts, body = EXCLUDED.body",
      {Text(record.sender), Text(record.client_msg_id), Int(record.ts),
       Bytes(EncodeIdempotency(record))});
}

Result<AppendResult> AppendTx::AddReceipt(const AppendRequest& request, Staged staged) {
  const ReceiptRecord& asked = *request.receipt;
  ConversationRecord& conversation = staged.conversation;
  if (staged.created) return NotFound("conversation not found");
  if (!ValidId(asked.user_id)) return BadRequest("invalid receipt user");
  Result<std::optional<MemberRecord>> member = Member(staged, asked.user_id);
  if (!member.ok()) return member.status();
  if (!member->has_value()) return Forbidden("not a member of this conversation");

  const std::string& id = conversation.conversation_id;
  Result<std::optional<std::string>> body =
      Body("SELECT body FROM receipts WHERE conversation_id = $1 AND user_id = $2",
           {Text(id), Text(asked.user_id)});
  if (!body.ok()) return body.status();
  ReceiptRecord merged;
  if (body->has_value()) {
    Result<ReceiptRecord> stored = DecodeReceipt(**body);
    if (!stored.ok()) return stored.status();
    merged = std::move(*stored);
  }
  merged.conversation_id = id;
  merged.user_id = asked.user_id;
  AppendResult result;
  result.entry = request.entry;
  if (!MergeReceipt(asked, conversation.last_seq, &merged)) {
    result.receipt = merged;
    return result;
  }
  merged.version = ++last_version_;
  conversation.last_version = merged.version;
  PARLEY_RETURN_IF_ERROR(
      Do("INSERT INTO receipts (conversation_id, user_id, body) VALUES ($1, $2, $3) "
         "ON CONFLICT (conversation_id, user_id) DO UPDATE SET body = EXCLUDED.body",
         {Text(id), Text(asked.user_id), Bytes(EncodeReceipt(merged))}));
  PARLEY_RETURN_IF_ERROR(PutConversation(conversation));
  result.receipt = merged;
  result.changed = true;
  return result;
}

}  // namespace parley::store::pg
