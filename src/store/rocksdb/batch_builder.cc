#include "store/rocksdb/batch_builder.h"

#include <rocksdb/iterator.h>

#include <algorithm>

#include <memory>
#include <set>
#include <tuple>

#include "store/records.h"

namespace parley::store {

BatchBuilder::BatchBuilder(const RocksDb& db, const ConversationCache& cache, uint64_t last_version)
    : db_(db), cache_(cache), last_version_(last_version) {}

Result<AppendResult> BatchBuilder::Add(const AppendRequest& request) {
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

Status BatchBuilder::LoadConversation(const AppendRequest& request, Staged* staged) {
  const std::string& id = request.entry.conversation_id;
  if (!ValidId(id)) return BadRequest("invalid conversation id");
  if (auto it = conversations_.find(id); it != conversations_.end()) {
    staged->conversation = it->second;
  } else if (auto cached = cache_.find(id); cached != cache_.end()) {
    staged->conversation = cached->second;
  } else {
    Result<std::string> value = GetValue(db_, db_.conversations, id, "conversation");
    if (value.ok()) {
      Result<ConversationRecord> record = DecodeConversation(*value);
      if (!record.ok()) return record.status();
      staged->conversation = std::move(*record);
    } else if (value.status().code() != Code::kNotFound || !request.create_if_missing) {
      return value.status();
    } else {
      staged->conversation = *request.create_if_missing;
      staged->conversation.conversation_id = id;
      staged->conversation.last_seq = 0;
      staged->conversation.last_version = 0;
      staged->conversation.member_count = 0;
      staged->created = true;
    }
  }
  staged->seq = staged->conversation.last_seq + 1;
  return Status::Ok();
}

StoredMember BatchBuilder::Members(const Staged& staged) {
  return [this, &staged](const std::string& user_id) -> Result<std::optional<MemberRecord>> {
    std::optional<MemberRecord> found;
    std::string key = PairKey(staged.conversation.conversation_id, user_id);
    if (auto it = members_.find(key); it != members_.end()) {
      found = it->second;
      return found;
    }
    Result<std::string> value = GetValue(db_, db_.members, key, "member");
    if (!value.ok() && value.status().code() != Code::kNotFound) return value.status();
    if (value.ok()) {
      Result<MemberRecord> record = DecodeMember(*value);
      if (!record.ok()) return record.status();
      found = std::move(*record);
    }
    return found;
  };
}

Result<std::optional<IdempotencyRecord>> BatchBuilder::FindDuplicate(const AppendRequest& request) {
  const EntryRecord& entry = request.entry;
  std::optional<IdempotencyRecord> found;
  if (entry.client_msg_id.empty()) return found;  // nothing to match on
  if (!ValidId(entry.sender)) return BadRequest("invalid sender");
  std::string key = PairKey(entry.sender, entry.client_msg_id);
  if (auto it = idempotency_.find(key); it != idempotency_.end()) {
    found = it->second;
  } else {
    Result<std::string> value = GetValue(db_, db_.idempotency, key, "idempotency record");
    if (!value.ok() && value.status().code() != Code::kNotFound) return value.status();
    if (value.ok()) {
      Result<IdempotencyRecord> record = DecodeIdempotency(*value);
      if (!record.ok()) return record.status();
      found = std::move(*record);
    }
  }
  if (found && !WithinIdempotencyWindow(request, *found)) found.reset();
  return found;
}

// Scans the members, so it is only for the rare requests that may remove the last admin.
Status BatchBuilder::StagePromotion(Staged* staged) {
  const std::string& id = staged->conversation.conversation_id;
  return store::StagePromotion(staged, [&](const auto& visit) -> Status {
    for (const auto& [key, member] : members_) {  // staged by this batch: newer than the DB
      if (member.conversation_id == id && !visit(member)) return Status::Ok();
    }
    std::string lower = KeyPrefix(id), upper = KeyPrefixEnd(id);
    rocksdb::Slice upper_bound(upper);
    rocksdb::ReadOptions options;
    options.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(options, db_.members));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      Result<MemberRecord> member = DecodeMember(it->value().ToStringView());
      if (!member.ok()) return member.status();
      if (!visit(*member)) return Status::Ok();
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan members");
    return Status::Ok();
  });
}

Status BatchBuilder::LoadMedia(const AppendRequest& request, Staged* staged) {
  const EntryRecord& entry = request.entry;
  if (entry.is_event || entry.media_id.empty()) return Status::Ok();
  if (!ValidId(entry.media_id)) return BadRequest("invalid media id");
  // Media records are deleted only between batches (DeleteUnreferencedMedia),
  // so what this reads stays true until the batch is written.
  Result<std::string> value = GetValue(db_, db_.media, entry.media_id, "media");
  if (!value.ok()) {
    if (value.status().code() == Code::kNotFound) return Forbidden("no such media");
    return value.status();
  }
  Result<MediaRecord> media = DecodeMedia(*value);
  if (!media.ok()) return media.status();
  staged->media = std::move(*media);
  return Status::Ok();
}

void BatchBuilder::StageMediaRef(const EntryRecord& entry, const MediaRecord& media) {
  MediaRefRecord ref{entry.media_id, entry.conversation_id, entry.seq, entry.ts};
  std::string key = PairKey(entry.media_id, entry.conversation_id);
  batch_.Put(db_.media_refs, key, EncodeMediaRef(ref)).PermitUncheckedError();
  media_refs_[std::move(key)] = ref;
  batch_.Delete(db_.media_unreferenced, UnreferencedMediaKey(media.created_at, media.media_id))
      .PermitUncheckedError();
}

AppendResult BatchBuilder::Write(const AppendRequest& request, Staged staged) {
  ConversationRecord& conversation = staged.conversation;
  const std::string& id = conversation.conversation_id;
  AppendResult result;
  result.conversation_created = staged.created;
  result.entry = std::move(staged.entry);
  EntryRecord& entry = result.entry;
  entry.seq = staged.seq;
  entry.version = ++last_version_;
  entry.promoted = staged.promoted;

  // WriteBatch::Put/Delete fail only on keys or values over 4 GiB, which
  // records never reach; a failure would surface when the batch is written.
  PutEntry(entry);
  batch_.Put(db_.versions, NumberKey(id, entry.version), EncodeBe64(staged.seq))
      .PermitUncheckedError();
  if (request.push_outbox) {
    batch_.Put(db_.push_outbox, NumberKey(id, staged.seq), "").PermitUncheckedError();
  }
  if (staged.media) StageMediaRef(entry, *staged.media);
  if (!entry.is_event && entry.message_id != 0) {  // lifecycle changes find messages by id
    std::string key = NumberKey(id, entry.message_id);
    batch_.Put(db_.message_index, key, EncodeBe64(entry.seq)).PermitUncheckedError();
    message_index_[std::move(key)] = entry.seq;
    if (!entry.media_id.empty()) {
      std::string key = MediaMessageKey(entry.media_id, id, entry.seq);
      batch_.Put(db_.media_messages, key, "").PermitUncheckedError();
      media_messages_[std::move(key)] = true;
    }
    if (staged.reply_target != 0) {
      std::string ref = RefKey(id, staged.reply_target, entry.seq);
      batch_.Put(db_.refs, ref, "").PermitUncheckedError();
      refs_.insert(std::move(ref));
    }
  }
  StageIdempotency(request, entry);
  for (auto& [user_id, member] : staged.members) {
    std::string key = PairKey(id, user_id);
    std::string value = EncodeMember(member);
    if (member.current()) {
      batch_.Put(db_.members, key, value).PermitUncheckedError();
    } else {
      batch_.Delete(db_.members, key).PermitUncheckedError();
    }
    batch_.Put(db_.user_conversations, PairKey(user_id, id), value).PermitUncheckedError();
    members_[std::move(key)] = std::move(member);
  }
  if (request.set_name) conversation.name = *request.set_name;
  if (request.set_posting) conversation.posting = *request.set_posting;
  if (request.set_disappear_after_s) {
    conversation.disappear_after_s = *request.set_disappear_after_s;
  }
  conversation.last_seq = staged.seq;
  conversation.last_version = result.entry.version;
  batch_.Put(db_.conversations, id, EncodeConversation(conversation)).PermitUncheckedError();
  conversations_[id] = std::move(conversation);
  wrote_ = true;
  return result;
}

void BatchBuilder::StageIdempotency(const AppendRequest& request, const EntryRecord& entry) {
  if (!request.idempotent || entry.client_msg_id.empty()) return;
  IdempotencyRecord record{entry.sender,     entry.client_msg_id, entry.conversation_id,
                           entry.message_id, entry.seq,           entry.ts};
  std::string key = PairKey(record.sender, record.client_msg_id);
  batch_.Put(db_.idempotency, key, EncodeIdempotency(record)).PermitUncheckedError();
  idempotency_[std::move(key)] = std::move(record);
  wrote_ = true;
}

Result<ReceiptRecord> BatchBuilder::CurrentReceipt(const std::string& key) {
  if (auto it = receipts_.find(key); it != receipts_.end()) return it->second;
  Result<std::string> value = GetValue(db_, db_.receipts, key, "receipt");
  if (value.ok()) return DecodeReceipt(*value);
  if (value.status().code() != Code::kNotFound) return value.status();
  return ReceiptRecord{};
}

Result<AppendResult> BatchBuilder::AddReceipt(const AppendRequest& request, Staged staged) {
  const ReceiptRecord& asked = *request.receipt;
  ConversationRecord& conversation = staged.conversation;
  if (staged.created) return NotFound("conversation not found");
  if (!ValidId(asked.user_id)) return BadRequest("invalid receipt user");
  Result<std::optional<MemberRecord>> member = Member(staged, asked.user_id);
  if (!member.ok()) return member.status();
  if (!member->has_value()) return Forbidden("not a member of this conversation");

  std::string key = PairKey(conversation.conversation_id, asked.user_id);
  Result<ReceiptRecord> current = CurrentReceipt(key);
  if (!current.ok()) return current.status();
  ReceiptRecord merged = *current;
  merged.conversation_id = conversation.conversation_id;
  merged.user_id = asked.user_id;
  AppendResult result;
  result.entry = request.entry;
  if (!MergeReceipt(asked, conversation.last_seq, &merged)) {
    result.receipt = merged;
    return result;
  }
  merged.version = ++last_version_;
  conversation.last_version = merged.version;
  batch_.Put(db_.receipts, key, EncodeReceipt(merged)).PermitUncheckedError();
  batch_.Put(db_.conversations, conversation.conversation_id, EncodeConversation(conversation))
      .PermitUncheckedError();
  conversations_[conversation.conversation_id] = conversation;
  receipts_[key] = merged;
  wrote_ = true;
  result.receipt = merged;
  result.changed = true;
  return result;
}

rocksdb::WriteBatch& BatchBuilder::Finish() {
  if (wrote_) {
    batch_.Put(db_.meta, kLastVersionKey, EncodeBe64(last_version_)).PermitUncheckedError();
  }
  return batch_;
}

}  // namespace parley::store
