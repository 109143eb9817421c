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
constexpr std::string_view kReceiptSql =
    "SELECT body FROM receipts WHERE conversation_id = $1 AND user_id = $2";

std::string KnownKey(char kind, const std::vector<std::string>& key) {
  std::string out(1, kind);
  for (const std::string& part : key) out += '\0' + part;  // ids hold no 0x00
  return out;
}

std::vector<Param> Texts(const std::vector<std::string>& key) {
  std::vector<Param> out;
  for (const std::string& part : key) out.push_back(Text(part));
  return out;
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

Status AppendTx::Begin(const std::vector<const AppendRequest*>& requests) {
  // The counter row lock orders the transactions of every server: versions
  // rise in commit order across all of them, as sync cursors require.
  Queue("SELECT last_version FROM store_meta WHERE id = 1 FOR UPDATE");
  size_t counter = queued_.size() - 1;
  std::vector<std::pair<char, std::vector<std::string>>> reads;
  std::set<std::string> asked;
  auto ask = [&](char kind, std::string_view sql, std::vector<std::string> key) {
    for (const std::string& part : key) {
      if (!ValidId(part)) return;
    }
    if (!asked.insert(KnownKey(kind, key)).second) return;
    Queue(std::string(sql), Texts(key));
    reads.emplace_back(kind, std::move(key));
  };
  for (const AppendRequest* r : requests) {
    const EntryRecord& e = r->entry;
    ask('c', kConversationSql, {e.conversation_id});  // locks it: this batch writes it
    for (const std::string* user : {&r->require_member, &r->require_admin, &e.sender}) {
      ask('m', kMemberSql, {e.conversation_id, *user});
    }
    if (r->idempotent) ask('i', kIdempotencySql, {e.sender, e.client_msg_id});
    if (r->receipt) ask('r', kReceiptSql, {e.conversation_id, r->receipt->user_id});
  }
  Result<std::vector<Rows>> done = Send();
  if (!done.ok()) return done.status();
  const Rows& row = (*done)[counter];
  if (row.empty()) return Internal("postgres: store_meta has no counter row");
  first_version_ = last_version_ = row.U64(0, 0);
  for (size_t i = 0; i < reads.size(); ++i) {
    const Rows& rows = (*done)[counter + 1 + i];
    std::optional<std::string> body;
    if (!rows.empty()) body.emplace(rows.Str(0, 0));
    known_[KnownKey(reads[i].first, reads[i].second)] = std::move(body);
  }
  return Status::Ok();
}

Result<std::optional<std::string>> AppendTx::Row(char kind, std::string_view sql,
                                                 const std::vector<std::string>& key) {
  std::string known = KnownKey(kind, key);
  if (auto it = known_.find(known); it != known_.end()) return it->second;
  Result<std::optional<std::string>> body = Body(sql, Texts(key));
  if (body.ok()) known_[known] = *body;
  return body;
}

void AppendTx::Know(char kind, const std::vector<std::string>& key, std::string body) {
  known_[KnownKey(kind, key)] = std::move(body);
}

Result<Rows> AppendTx::Query(std::string_view sql, const std::vector<Param>& params) {
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
  wrote_ = true;
  Queue(std::string(sql), params);
  return Status::Ok();
}

Result<Rows> AppendTx::Returning(std::string_view sql, const std::vector<Param>& params) {
  wrote_ = true;
  return Query(sql, params);
}

Result<AppendResult> AppendTx::Add(const AppendRequest& request) {
  wrote_ = statement_failed_ = false;
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
  Result<std::optional<std::string>> body = Row('c', kConversationSql, {id});
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
        Row('m', kMemberSql, {staged.conversation.conversation_id, user_id});
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
      Row('i', kIdempotencySql, {entry.sender, entry.client_msg_id});
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
  std::string body = EncodeConversation(c);
  Know('c', {c.conversation_id}, body);
  return Do(
      "INSERT INTO conversations (conversation_id, last_seq, body) VALUES ($1, $2, $3) "
      "ON CONFLICT (conversation_id) DO UPDATE SET last_seq = EXCLUDED.last_seq, body = "
      "EXCLUDED.body",
      {Text(c.conversation_id), U64(c.last_seq), Bytes(body)});
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
    std::string body = EncodeMember(member);
    Know('m', {id, user_id}, body);
    PARLEY_RETURN_IF_ERROR(
        Do("INSERT INTO members (conversation_id, user_id, current, body) VALUES ($1, $2, $3, $4) "
           "ON CONFLICT (conversation_id, user_id) DO UPDATE SET current = EXCLUDED.current, "
           "body = EXCLUDED.body",
           {Text(id), Text(user_id), Bool(member.current()), Bytes(body)}));
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
  std::string body = EncodeIdempotency(record);
  Know('i', {record.sender, record.client_msg_id}, body);
  return Do(
      "INSERT INTO idempotency (sender, client_msg_id, ts, body) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (sender, client_msg_id) DO UPDATE SET ts = EXCLUDED.ts, body = EXCLUDED.body",
      {Text(record.sender), Text(record.client_msg_id), Int(record.ts), Bytes(body)});
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
  Result<std::optional<std::string>> body = Row('r', kReceiptSql, {id, asked.user_id});
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
  std::string stored = EncodeReceipt(merged);
  Know('r', {id, asked.user_id}, stored);
  PARLEY_RETURN_IF_ERROR(
      Do("INSERT INTO receipts (conversation_id, user_id, body) VALUES ($1, $2, $3) "
         "ON CONFLICT (conversation_id, user_id) DO UPDATE SET body = EXCLUDED.body",
         {Text(id), Text(asked.user_id), Bytes(stored)}));
  PARLEY_RETURN_IF_ERROR(PutConversation(conversation));
  result.receipt = merged;
  result.changed = true;
  return result;
}

}  // namespace parley::store::pg
