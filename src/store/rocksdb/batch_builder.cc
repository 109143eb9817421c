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
  PARLEY_RETURN_IF_ERROR(CheckAccess(request, staged));
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
  PARLEY_RETURN_IF_ERROR(StageAdds(request, &staged));
  PARLEY_RETURN_IF_ERROR(StageRemovals(request, &staged));
  PARLEY_RETURN_IF_ERROR(StageRoles(request, &staged));
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

Result<std::optional<MemberRecord>> BatchBuilder::CurrentMember(const Staged& staged,
                                                                const std::string& user_id) {
  std::optional<MemberRecord> found;
  if (auto it = staged.members.find(user_id); it != staged.members.end()) {
    found = it->second;
  } else if (staged.created) {
    return found;  // a new conversation has no members yet
  } else {
    std::string key = PairKey(staged.conversation.conversation_id, user_id);
    if (auto it = members_.find(key); it != members_.end()) {
      found = it->second;
    } else {
      Result<std::string> value = GetValue(db_, db_.members, key, "member");
      if (!value.ok() && value.status().code() != Code::kNotFound) return value.status();
      if (value.ok()) {
        Result<MemberRecord> record = DecodeMember(*value);
        if (!record.ok()) return record.status();
        found = std::move(*record);
      }
    }
  }
  if (found && !found->current()) found.reset();
  return found;
}

Status BatchBuilder::CheckAccess(const AppendRequest& request, const Staged& staged) {
  if (!request.require_member.empty()) {
    Result<std::optional<MemberRecord>> member = CurrentMember(staged, request.require_member);
    if (!member.ok()) return member.status();
    if (!member->has_value()) return Forbidden("not a member of this conversation");
  }
  if (!request.require_admin.empty()) {
    Result<std::optional<MemberRecord>> admin = CurrentMember(staged, request.require_admin);
    if (!admin.ok()) return admin.status();
    if (!admin->has_value() || (*admin)->role != Role::kAdmin) {
      return Forbidden("not an admin of this conversation");
    }
  }
  return Status::Ok();
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
  if (found && entry.ts - found->ts >= request.idempotency_window_ms) found.reset();
  return found;
}

Status BatchBuilder::StageAdds(const AppendRequest& request, Staged* staged) {
  uint32_t added = 0;
  for (const MemberRecord& add : request.add_members) {
    if (!ValidId(add.user_id)) return BadRequest("invalid member id");
    Result<std::optional<MemberRecord>> current = CurrentMember(*staged, add.user_id);
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
  return Status::Ok();
}

Status BatchBuilder::StageRemovals(const AppendRequest& request, Staged* staged) {
  for (const std::string& user_id : request.remove_members) {
    if (!ValidId(user_id)) return BadRequest("invalid member id");
    Result<std::optional<MemberRecord>> current = CurrentMember(*staged, user_id);
    if (!current.ok()) return current.status();
    if (!current->has_value()) return NotFound("not a member: " + user_id);
    MemberRecord record = std::move(**current);
    record.left_seq = staged->seq;
    staged->members[user_id] = std::move(record);
    if (staged->conversation.member_count > 0) --staged->conversation.member_count;
  }
  return Status::Ok();
}

Status BatchBuilder::StageRoles(const AppendRequest& request, Staged* staged) {
  for (const auto& [user_id, role] : request.set_roles) {
    if (!ValidId(user_id)) return BadRequest("invalid member id");
    Result<std::optional<MemberRecord>> current = CurrentMember(*staged, user_id);
    if (!current.ok()) return current.status();
    if (!current->has_value()) return NotFound("not a member: " + user_id);
    MemberRecord record = std::move(**current);
    record.role = role;
    staged->members[user_id] = std::move(record);
  }
  return Status::Ok();
}

// Makes the oldest current member (lowest joined_seq, then user id) an admin
// when the request leaves members but no admin. Scans the members, so it is
// only for the rare requests that may remove the last admin.
Status BatchBuilder::StagePromotion(Staged* staged) {
  const std::string& id = staged->conversation.conversation_id;
  std::optional<MemberRecord> oldest;
  bool has_admin = false;
  std::set<std::string> seen;  // users whose latest state is in an overlay
  auto consider = [&](const MemberRecord& m) {
    if (!m.current()) return;
    if (m.role == Role::kAdmin) has_admin = true;
    if (!oldest ||
        std::tie(m.joined_seq, m.user_id) < std::tie(oldest->joined_seq, oldest->user_id)) {
      oldest = m;
    }
  };
  for (const auto& [user_id, member] : staged->members) {
    consider(member);
    seen.insert(user_id);
  }
  for (const auto& [key, member] : members_) {
    if (member.conversation_id == id && seen.insert(member.user_id).second) consider(member);
  }
  if (!staged->created) {
    std::string lower = KeyPrefix(id), upper = KeyPrefixEnd(id);
    rocksdb::Slice upper_bound(upper);
    rocksdb::ReadOptions options;
    options.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> it(db_.db->NewIterator(options, db_.members));
    for (it->Seek(lower); it->Valid() && !has_admin; it->Next()) {
      Result<MemberRecord> member = DecodeMember(it->value().ToStringView());
      if (!member.ok()) return member.status();
      if (!seen.count(member->user_id)) consider(*member);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan members");
  }
  if (has_admin || !oldest) return Status::Ok();
  oldest->role = Role::kAdmin;
  staged->promoted = oldest->user_id;
  staged->members[oldest->user_id] = std::move(*oldest);
  return Status::Ok();
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
  Result<std::optional<MemberRecord>> member = CurrentMember(staged, asked.user_id);
  if (!member.ok()) return member.status();
  if (!member->has_value()) return Forbidden("not a member of this conversation");

  std::string key = PairKey(conversation.conversation_id, asked.user_id);
  Result<ReceiptRecord> current = CurrentReceipt(key);
  if (!current.ok()) return current.status();
  ReceiptRecord merged = *current;
  merged.conversation_id = conversation.conversation_id;
  merged.user_id = asked.user_id;
  // Watermarks only rise; read implies delivered; nothing beyond the last seq.
  uint64_t read = std::min(std::max(merged.read_seq, asked.read_seq), conversation.last_seq);
  uint64_t delivered = std::min(std::max({merged.delivered_seq, asked.delivered_seq, read}),
                                conversation.last_seq);
  AppendResult result;
  result.entry = request.entry;
  if (read == merged.read_seq && delivered == merged.delivered_seq) {
    result.receipt = merged;
    return result;
  }
  merged.read_seq = read;
  merged.delivered_seq = delivered;
  merged.version = ++last_version_;
  merged.updated_at = asked.updated_at;
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
