#include "store/rocksdb/rocksdb_store.h"

#include <algorithm>
#include <future>
#include <limits>
#include <mutex>

#include "store/records.h"
#include "store/rocksdb/column_families.h"
#include "store/rocksdb/committer.h"

namespace parley::store {
namespace {

template <typename T, typename Decoder>
Result<T> GetRecord(const RocksDb& db, rocksdb::ColumnFamilyHandle* cf, std::string_view key,
                    std::string_view what, Decoder decode) {
  Result<std::string> value = GetValue(db, cf, key, what);
  if (!value.ok()) return value.status();
  return decode(*value);
}

class RocksDbStore final : public Store {
 public:
  RocksDbStore(std::unique_ptr<RocksDb> db, const StoreOptions& options, uint64_t last_version)
      : db_(std::move(db)), committer_(db_.get(), options, last_version) {
    write_options_.sync = options.sync_writes;
  }
  ~RocksDbStore() override { Close(); }

  Status CreateUser(const UserRecord& user) override;
  Result<UserRecord> GetUser(std::string_view user_id) override {
    return GetRecord<UserRecord>(*db_, db_->users, user_id, "user", DecodeUser);
  }
  Status UpdateUser(const UserRecord& user) override;

  Status PutToken(const TokenRecord& token) override {
    return Put(db_->tokens, token.token_hash, EncodeToken(token), "token");
  }
  Result<TokenRecord> GetToken(std::string_view token_hash) override {
    return GetRecord<TokenRecord>(*db_, db_->tokens, token_hash, "token", DecodeToken);
  }
  Status DeleteToken(std::string_view token_hash) override;

  void Append(AppendRequest request, AppendCallback done) override {
    committer_.Submit(std::move(request), std::move(done));
  }
  Result<ConversationRecord> GetConversation(std::string_view conversation_id) override {
    return GetRecord<ConversationRecord>(*db_, db_->conversations, conversation_id, "conversation",
                                         DecodeConversation);
  }
  Result<MemberRecord> GetMember(std::string_view conversation_id,
                                 std::string_view user_id) override;
  Result<std::vector<MemberRecord>> ListMembers(std::string_view conversation_id,
                                                std::string_view after_user, size_t limit) override;
  Result<std::vector<MemberRecord>> ListUserConversations(std::string_view user_id) override;
  Result<std::vector<EntryRecord>> ReadEntries(std::string_view conversation_id, uint64_t after_seq,
                                               uint64_t before_seq, size_t limit,
                                               bool newest_first) override;
  Result<std::vector<EntryRecord>> ReadSinceVersion(std::string_view conversation_id,
                                                    uint64_t after_version, size_t limit) override;
  Result<IdempotencyRecord> GetIdempotency(std::string_view sender,
                                           std::string_view client_msg_id) override {
    return GetRecord<IdempotencyRecord>(*db_, db_->idempotency, PairKey(sender, client_msg_id),
                                        "idempotency record", DecodeIdempotency);
  }

  Result<std::vector<ReceiptRecord>> ListReceipts(std::string_view conversation_id) override;
  Result<EntryRecord> GetMessage(std::string_view conversation_id, uint64_t message_id) override;
  Result<std::vector<HiddenRecord>> ListHidden(std::string_view conversation_id,
                                               std::string_view user_id) override;
  Result<bool> HasLiveMediaReference(std::string_view media_id) override;
  Result<std::vector<ConversationRecord>> ListConversations(std::string_view after_id,
                                                            size_t limit) override;
  Status SetBlocked(std::string_view blocker, std::string_view blocked, bool on) override;
  Result<bool> IsBlocked(std::string_view blocker, std::string_view blocked) override;
  Result<std::vector<std::string>> ListBlocked(std::string_view blocker) override;

  // Push notifications (bottom of this file).
  Result<DevicePut> PutDevice(const DeviceRecord& device) override;
  Result<DeviceRecord> GetDevice(std::string_view user_id, std::string_view device_id) override {
    return GetRecord<DeviceRecord>(*db_, db_->devices, PairKey(user_id, device_id), "device",
                                   DecodeDevice);
  }
  Result<std::vector<DeviceRecord>> ListDevices(std::string_view user_id) override;
  Status DeleteDevice(std::string_view user_id, std::string_view device_id) override;
  // Push jobs and outbox deletions skip the fsync: the message's own commit,
  // with its outbox mark, is the durable point. The WAL is one log for every
  // column family, so if a mark's deletion survives a power loss, the jobs
  // written before it survive too; else the mark plans the message again.
  Status PutPushJob(const PushJobRecord& job) override {
    if (!ValidId(job.job_id)) return BadRequest("invalid push job id");
    return Write(db_->push_jobs, job.job_id, EncodePushJob(job), "push job", false);
  }
  Status DeletePushJob(std::string_view job_id) override {
    return Write(db_->push_jobs, job_id, std::nullopt, "push job", false);
  }
  Result<std::vector<PushJobRecord>> ListPushJobs() override;
  Result<std::vector<std::pair<std::string, uint64_t>>> ListPushOutbox() override;
  Status DeletePushOutbox(std::string_view conversation_id, uint64_t seq) override {
    return Write(db_->push_outbox, NumberKey(conversation_id, seq), std::nullopt, "push outbox",
                 false);
  }
  Status SetMuted(std::string_view user_id, std::string_view conversation_id, bool muted) override {
    std::optional<std::string> value;
    if (muted) value.emplace();
    return Write(db_->mutes, PairKey(user_id, conversation_id), value, "mute");
  }
  Result<bool> IsMuted(std::string_view user_id, std::string_view conversation_id) override;
  Status PutMedia(const MediaRecord& media) override;
  Result<MediaRecord> GetMedia(std::string_view media_id) override {
    if (!ValidId(media_id)) return NotFound("media not found");
    return GetRecord<MediaRecord>(*db_, db_->media, media_id, "media", DecodeMedia);
  }
  Result<std::vector<MediaRefRecord>> ListMediaRefs(std::string_view media_id) override;
  Result<std::vector<MediaRecord>> ListUnreferencedMedia(int64_t created_before,
                                                         size_t limit) override;
  Result<bool> DeleteUnreferencedMedia(std::string_view media_id) override;
  Result<bool> HasMediaWithSha256(std::string_view sha256) override;

  uint64_t CommittedVersion() const override { return committer_.CommittedVersion(); }
  Status Ping() override;
  void Close() override;
  Stats GetStats() const override { return committer_.GetStats(); }

 private:
  Status Put(rocksdb::ColumnFamilyHandle* cf, std::string_view key, const std::string& value,
             std::string_view what);
  // Puts `value` at `key`, or deletes the key when there is no value; `sync`
  // false skips the fsync whatever --durability says.
  Status Write(rocksdb::ColumnFamilyHandle* cf, std::string_view key,
               const std::optional<std::string>& value, std::string_view what, bool sync = true);
  // Visits the keys in [lower, upper) in order (or reverse order) until
  // `visit(key, value)` yields false or an error.
  template <typename Visit>
  Status Scan(rocksdb::ColumnFamilyHandle* cf, const std::string& lower, const std::string& upper,
              bool backward, Visit visit, const rocksdb::Snapshot* snapshot = nullptr);

  std::unique_ptr<RocksDb> db_;  // declared first: outlives the committer
  Committer committer_;
  rocksdb::WriteOptions write_options_;
  // On the committer thread (RunExclusive).
  Result<bool> DeleteMediaIfUnreferenced(const std::string& media_id);
  // Whether any key starts with KeyPrefix(first).
  Result<bool> AnyWithPrefix(rocksdb::ColumnFamilyHandle* cf, std::string_view first);

  std::mutex users_mu_;  // makes CreateUser/UpdateUser check-and-put atomic
  std::mutex devices_mu_;  // makes PutDevice/DeleteDevice (record + address index) atomic
  std::mutex media_mu_;  // makes PutMedia check-and-put atomic
  std::mutex close_mu_;
  bool closed_ = false;  // guarded by close_mu_
};

Status RocksDbStore::Put(rocksdb::ColumnFamilyHandle* cf, std::string_view key,
                         const std::string& value, std::string_view what) {
  rocksdb::Status s = db_->db->Put(write_options_, cf, key, value);
  if (!s.ok()) return FromRocks(s, std::string("write ") + std::string(what));
  return Status::Ok();
}

Status RocksDbStore::CreateUser(const UserRecord& user) {
  if (!ValidId(user.user_id)) return BadRequest("invalid user id");
  std::lock_guard lock(users_mu_);
  Result<std::string> existing = GetValue(*db_, db_->users, user.user_id, "user");
  if (existing.ok()) return Conflict("user id is taken");
  if (existing.status().code() != Code::kNotFound) return existing.status();
  return Put(db_->users, user.user_id, EncodeUser(user), "user");
}

Status RocksDbStore::UpdateUser(const UserRecord& user) {
  std::lock_guard lock(users_mu_);
  Result<std::string> existing = GetValue(*db_, db_->users, user.user_id, "user");
  if (!existing.ok()) return existing.status();
  return Put(db_->users, user.user_id, EncodeUser(user), "user");
}

Status RocksDbStore::DeleteToken(std::string_view token_hash) {
  rocksdb::Status s = db_->db->Delete(write_options_, db_->tokens, token_hash);
  if (!s.ok()) return FromRocks(s, "delete token");
  return Status::Ok();
}

template <typename Visit>
Status RocksDbStore::Scan(rocksdb::ColumnFamilyHandle* cf, const std::string& lower,
                          const std::string& upper, bool backward, Visit visit,
                          const rocksdb::Snapshot* snapshot) {
  rocksdb::Slice lower_bound(lower);
  rocksdb::Slice upper_bound(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_bound;
  options.iterate_upper_bound = &upper_bound;
  options.snapshot = snapshot;
  std::unique_ptr<rocksdb::Iterator> it(db_->db->NewIterator(options, cf));
  if (backward) {
    it->SeekToLast();
  } else {
    it->Seek(lower_bound);
  }
  while (it->Valid()) {
    Result<bool> more = visit(it->key().ToStringView(), it->value().ToStringView());
    if (!more.ok()) return more.status();
    if (!*more) return Status::Ok();
    if (backward) {
      it->Prev();
    } else {
      it->Next();
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan");
  return Status::Ok();
}

Result<MemberRecord> RocksDbStore::GetMember(std::string_view conversation_id,
                                             std::string_view user_id) {
  if (!ValidId(conversation_id) || !ValidId(user_id)) return NotFound("member not found");
  return GetRecord<MemberRecord>(*db_, db_->user_conversations, PairKey(user_id, conversation_id),
                                 "member", DecodeMember);
}

Result<std::vector<MemberRecord>> RocksDbStore::ListMembers(std::string_view conversation_id,
                                                            std::string_view after_user,
                                                            size_t limit) {
  if (!ValidId(conversation_id)) return BadRequest("invalid conversation id");
  std::vector<MemberRecord> out;
  if (limit == 0) return out;
  // conv \0 user \0 is the first key after conv \0 user.
  std::string lower = after_user.empty() ? KeyPrefix(conversation_id)
                                         : KeyPrefix(PairKey(conversation_id, after_user));
  Status s = Scan(db_->members, lower, KeyPrefixEnd(conversation_id), false,
                  [&](std::string_view, std::string_view value) -> Result<bool> {
                    Result<MemberRecord> member = DecodeMember(value);
                    if (!member.ok()) return member.status();
                    out.push_back(std::move(*member));
                    return out.size() < limit;
                  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<ReceiptRecord>> RocksDbStore::ListReceipts(std::string_view conversation_id) {
  std::vector<ReceiptRecord> out;
  Status s = Scan(db_->receipts, KeyPrefix(conversation_id), KeyPrefixEnd(conversation_id), false,
                  [&](std::string_view, std::string_view value) -> Result<bool> {
                    Result<ReceiptRecord> receipt = DecodeReceipt(value);
                    if (!receipt.ok()) return receipt.status();
                    out.push_back(std::move(*receipt));
                    return true;
                  });
  if (!s.ok()) return s;
  return out;
}

Result<EntryRecord> RocksDbStore::GetMessage(std::string_view conversation_id,
                                             uint64_t message_id) {
  if (!ValidId(conversation_id)) return NotFound("no such message");
  Result<std::string> seq =
      GetValue(*db_, db_->message_index, NumberKey(conversation_id, message_id), "message");
  if (!seq.ok()) return seq.status();
  Result<uint64_t> decoded = DecodeBe64(*seq);
  if (!decoded.ok()) return decoded.status();
  return GetRecord<EntryRecord>(*db_, db_->entries, NumberKey(conversation_id, *decoded), "message",
                                DecodeEntry);
}

Result<std::vector<HiddenRecord>> RocksDbStore::ListHidden(std::string_view conversation_id,
                                                           std::string_view user_id) {
  std::vector<HiddenRecord> out;
  if (!ValidId(conversation_id) || !ValidId(user_id)) return out;
  std::string prefix = PairKey(conversation_id, user_id);
  Status s = Scan(db_->hidden, KeyPrefix(prefix), KeyPrefixEnd(prefix), false,
                  [&](std::string_view, std::string_view value) -> Result<bool> {
                    Result<HiddenRecord> hidden = DecodeHidden(value);
                    if (!hidden.ok()) return hidden.status();
                    out.push_back(std::move(*hidden));
                    return true;
                  });
  if (!s.ok()) return s;
  return out;
}

Result<bool> RocksDbStore::HasLiveMediaReference(std::string_view media_id) {
  if (!ValidId(media_id)) return false;
  bool found = false;
  Status s = Scan(db_->media_messages, KeyPrefix(media_id), KeyPrefixEnd(media_id), false,
                  [&](std::string_view, std::string_view) -> Result<bool> {
                    found = true;
                    return false;
                  });
  if (!s.ok()) return s;
  return found;
}

Result<std::vector<ConversationRecord>> RocksDbStore::ListConversations(std::string_view after_id,
                                                                        size_t limit) {
  std::vector<ConversationRecord> out;
  if (limit == 0) return out;
  // The first key after `after_id` is `after_id` 0x00.
  std::string lower = after_id.empty() ? std::string() : KeyPrefix(after_id);
  Status s = Scan(db_->conversations, lower, std::string(1, '\xff'), false,
                  [&](std::string_view, std::string_view value) -> Result<bool> {
                    Result<ConversationRecord> c = DecodeConversation(value);
                    if (!c.ok()) return c.status();
                    out.push_back(std::move(*c));
                    return out.size() < limit;
                  });
  if (!s.ok()) return s;
  return out;
}

Status RocksDbStore::SetBlocked(std::string_view blocker, std::string_view blocked, bool on) {
  std::string key = PairKey(blocker, blocked);
  rocksdb::Status s = on ? db_->db->Put(write_options_, db_->blocks, key, "")
                         : db_->db->Delete(write_options_, db_->blocks, key);
  return s.ok() ? Status::Ok() : FromRocks(s, "block");
}

Result<bool> RocksDbStore::IsBlocked(std::string_view blocker, std::string_view blocked) {
  Result<std::string> value = GetValue(*db_, db_->blocks, PairKey(blocker, blocked), "block");
  if (value.ok()) return true;
  if (value.status().code() == Code::kNotFound) return false;
  return value.status();
}

Result<std::vector<std::string>> RocksDbStore::ListBlocked(std::string_view blocker) {
  std::vector<std::string> out;
  size_t prefix = KeyPrefix(blocker).size();
  Status s = Scan(db_->blocks, KeyPrefix(blocker), KeyPrefixEnd(blocker), false,
                  [&](std::string_view key, std::string_view) -> Result<bool> {
                    out.emplace_back(key.substr(prefix));
                    return true;
                  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<MemberRecord>> RocksDbStore::ListUserConversations(std::string_view user_id) {
  if (!ValidId(user_id)) return BadRequest("invalid user id");
  std::vector<MemberRecord> out;
  Status s = Scan(db_->user_conversations, KeyPrefix(user_id), KeyPrefixEnd(user_id), false,
                  [&](std::string_view, std::string_view value) -> Result<bool> {
                    Result<MemberRecord> member = DecodeMember(value);
                    if (!member.ok()) return member.status();
                    out.push_back(std::move(*member));
                    return true;
                  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<EntryRecord>> RocksDbStore::ReadEntries(std::string_view conversation_id,
                                                           uint64_t after_seq, uint64_t before_seq,
                                                           size_t limit, bool newest_first) {
  if (!ValidId(conversation_id)) return BadRequest("invalid conversation id");
  std::vector<EntryRecord> out;
  if (limit == 0 || after_seq == std::numeric_limits<uint64_t>::max()) return out;
  if (before_seq != 0 && before_seq <= after_seq + 1) return out;
  std::string upper =
      before_seq == 0 ? KeyPrefixEnd(conversation_id) : NumberKey(conversation_id, before_seq);
  Status s = Scan(db_->entries, NumberKey(conversation_id, after_seq + 1), upper, newest_first,
                  [&](std::string_view, std::string_view value) -> Result<bool> {
                    Result<EntryRecord> entry = DecodeEntry(value);
                    if (!entry.ok()) return entry.status();
                    out.push_back(std::move(*entry));
                    return out.size() < limit;
                  });
  if (!s.ok()) return s;
  if (newest_first) std::reverse(out.begin(), out.end());
  return out;
}

Result<std::vector<EntryRecord>> RocksDbStore::ReadSinceVersion(std::string_view conversation_id,
                                                                uint64_t after_version,
                                                                size_t limit) {
  if (!ValidId(conversation_id)) return BadRequest("invalid conversation id");
  std::vector<EntryRecord> out;
  if (limit == 0 || after_version == std::numeric_limits<uint64_t>::max()) return out;
  // One snapshot for the index and the entries: a retention purge may delete both meanwhile.
  std::shared_ptr<const rocksdb::Snapshot> snapshot(
      db_->db->GetSnapshot(), [this](const rocksdb::Snapshot* s) { db_->db->ReleaseSnapshot(s); });
  std::vector<std::string> keys;  // entry keys, ascending: seq grows with version
  Status s = Scan(
      db_->versions, NumberKey(conversation_id, after_version + 1), KeyPrefixEnd(conversation_id),
      false,
      [&](std::string_view, std::string_view value) -> Result<bool> {
        Result<uint64_t> seq = DecodeBe64(value);
        if (!seq.ok()) return seq.status();
        keys.push_back(NumberKey(conversation_id, *seq));
        return keys.size() < limit;
      },
      snapshot.get());
  if (!s.ok()) return s;
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  rocksdb::ReadOptions at_snapshot;
  at_snapshot.snapshot = snapshot.get();
  db_->db->MultiGet(at_snapshot, db_->entries, keys.size(), slices.data(), values.data(),
                    statuses.data(), /*sorted_input=*/true);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) return Internal("versions index points to a missing entry");
    if (!statuses[i].ok()) return FromRocks(statuses[i], "read entries");
    Result<EntryRecord> entry = DecodeEntry(values[i].ToStringView());
    if (!entry.ok()) return entry.status();
    out.push_back(std::move(*entry));
  }
  return out;
}

Status RocksDbStore::PutMedia(const MediaRecord& media) {
  if (!ValidId(media.media_id) || !ValidId(media.sha256)) return BadRequest("invalid media id");
  std::lock_guard lock(media_mu_);
  Result<std::string> existing = GetValue(*db_, db_->media, media.media_id, "media");
  if (existing.ok()) return Conflict("media id is taken");
  if (existing.status().code() != Code::kNotFound) return existing.status();
  rocksdb::WriteBatch batch;
  batch.Put(db_->media, media.media_id, EncodeMedia(media)).PermitUncheckedError();
  batch.Put(db_->media_unreferenced, UnreferencedMediaKey(media.created_at, media.media_id), "")
      .PermitUncheckedError();
  batch.Put(db_->media_blobs, PairKey(media.sha256, media.media_id), "").PermitUncheckedError();
  rocksdb::Status s = db_->db->Write(write_options_, &batch);
  return s.ok() ? Status::Ok() : FromRocks(s, "write media");
}

Result<std::vector<MediaRefRecord>> RocksDbStore::ListMediaRefs(std::string_view media_id) {
  std::vector<MediaRefRecord> out;
  if (!ValidId(media_id)) return out;
  Status s = Scan(db_->media_refs, KeyPrefix(media_id), KeyPrefixEnd(media_id), false,
                  [&](std::string_view, std::string_view value) -> Result<bool> {
                    Result<MediaRefRecord> ref = DecodeMediaRef(value);
                    if (!ref.ok()) return ref.status();
                    out.push_back(std::move(*ref));
                    return true;
                  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<MediaRecord>> RocksDbStore::ListUnreferencedMedia(int64_t created_before,
                                                                     size_t limit) {
  std::vector<MediaRecord> out;
  if (limit == 0 || created_before <= 0) return out;
  std::string upper = EncodeBe64(static_cast<uint64_t>(created_before));
  Status s = Scan(db_->media_unreferenced, std::string(), upper, false,
                  [&](std::string_view key, std::string_view) -> Result<bool> {
                    std::string_view media_id = key.substr(std::min<size_t>(key.size(), 9));
                    Result<MediaRecord> media = GetMedia(media_id);
                    if (!media.ok()) return media.status();
                    out.push_back(std::move(*media));
                    return out.size() < limit;
                  });
  if (!s.ok()) return s;
  return out;
}

Result<bool> RocksDbStore::DeleteUnreferencedMedia(std::string_view media_id) {
  auto result = std::make_shared<std::promise<Result<bool>>>();
  std::future<Result<bool>> future = result->get_future();
  bool queued = committer_.RunExclusive([this, result, id = std::string(media_id)] {
    result->set_value(DeleteMediaIfUnreferenced(id));
  });
  if (!queued) return Unavailable("store is closed");
  return future.get();
}

Result<bool> RocksDbStore::DeleteMediaIfUnreferenced(const std::string& media_id) {
  Result<MediaRecord> media = GetMedia(media_id);
  if (!media.ok()) {
    if (media.status().code() == Code::kNotFound) return false;
    return media.status();
  }
  Result<bool> referenced = AnyWithPrefix(db_->media_refs, media_id);
  if (!referenced.ok()) return referenced.status();
  if (*referenced) return false;
  rocksdb::WriteBatch batch;
  batch.Delete(db_->media, media_id).PermitUncheckedError();
  batch.Delete(db_->media_unreferenced, UnreferencedMediaKey(media->created_at, media_id))
      .PermitUncheckedError();
  batch.Delete(db_->media_blobs, PairKey(media->sha256, media_id)).PermitUncheckedError();
  rocksdb::Status s = db_->db->Write(write_options_, &batch);
  if (!s.ok()) return FromRocks(s, "delete media");
  return true;
}

Result<bool> RocksDbStore::HasMediaWithSha256(std::string_view sha256) {
  if (!ValidId(sha256)) return false;
  return AnyWithPrefix(db_->media_blobs, sha256);
}

Result<bool> RocksDbStore::AnyWithPrefix(rocksdb::ColumnFamilyHandle* cf, std::string_view first) {
  bool found = false;
  Status s = Scan(cf, KeyPrefix(first), KeyPrefixEnd(first), false,
                  [&](std::string_view, std::string_view) -> Result<bool> {
                    found = true;
                    return false;
                  });
  if (!s.ok()) return s;
  return found;
}

Status RocksDbStore::Ping() {
  {
    std::lock_guard lock(close_mu_);
    if (closed_) return Unavailable("store is closed");
  }
  Result<std::string> value = GetValue(*db_, db_->meta, kLastVersionKey, "last version");
  if (!value.ok() && value.status().code() != Code::kNotFound) return value.status();
  return Status::Ok();
}

void RocksDbStore::Close() {
  std::lock_guard lock(close_mu_);
  if (closed_) return;
  closed_ = true;
  committer_.Close();
  // With --durability=os the tail of the WAL may still be in the OS cache.
  db_->db->FlushWAL(/*sync=*/true).PermitUncheckedError();
}

// --- Push notifications ---

Status RocksDbStore::Write(rocksdb::ColumnFamilyHandle* cf, std::string_view key,
                           const std::optional<std::string>& value, std::string_view what,
                           bool sync) {
  rocksdb::WriteOptions options = write_options_;
  options.sync = options.sync && sync;
  rocksdb::Status s = value ? db_->db->Put(options, cf, key, *value)
                            : db_->db->Delete(options, cf, key);
  if (!s.ok()) return FromRocks(s, std::string("write ") + std::string(what));
  return Status::Ok();
}

// The address index key: (platform, token, url) names one physical target.
std::string DeviceAddressKey(const DeviceRecord& d) {
  return PairKey(PairKey(d.platform, d.token), d.url);
}

Result<DevicePut> RocksDbStore::PutDevice(const DeviceRecord& device) {
  if (!ValidId(device.user_id) || !ValidId(device.device_id)) return BadRequest("invalid device");
  std::lock_guard lock(devices_mu_);
  std::string address = DeviceAddressKey(device);
  DevicePut out;
  rocksdb::WriteBatch batch;
  Result<std::string> owner = GetValue(*db_, db_->device_addresses, address, "device address");
  if (owner.ok()) {
    Result<DeviceRecord> previous =
        GetRecord<DeviceRecord>(*db_, db_->devices, *owner, "device", DecodeDevice);
    if (!previous.ok()) return previous.status();
    if (previous->user_id == device.user_id) {
      out.stored = std::move(*previous);
      out.existed = true;
      return out;
    }
    batch.Delete(db_->devices, *owner).PermitUncheckedError();
    out.displaced = std::move(*previous);
  } else if (owner.status().code() != Code::kNotFound) {
    return owner.status();
  }
  std::string key = PairKey(device.user_id, device.device_id);
  batch.Put(db_->devices, key, EncodeDevice(device)).PermitUncheckedError();
  batch.Put(db_->device_addresses, address, key).PermitUncheckedError();
  rocksdb::Status s = db_->db->Write(write_options_, &batch);
  if (!s.ok()) return FromRocks(s, "write device");
  out.stored = device;
  return out;
}

Result<std::vector<DeviceRecord>> RocksDbStore::ListDevices(std::string_view user_id) {
  if (!ValidId(user_id)) return BadRequest("invalid user id");
  std::vector<DeviceRecord> out;
  Status s = Scan(db_->devices, KeyPrefix(user_id), KeyPrefixEnd(user_id), false,
                  [&](std::string_view, std::string_view value) -> Result<bool> {
                    Result<DeviceRecord> device = DecodeDevice(value);
                    if (!device.ok()) return device.status();
                    out.push_back(std::move(*device));
                    return true;
                  });
  if (!s.ok()) return s;
  return out;
}

Status RocksDbStore::DeleteDevice(std::string_view user_id, std::string_view device_id) {
  if (!ValidId(user_id) || !ValidId(device_id)) return NotFound("device not found");
  std::lock_guard lock(devices_mu_);
  std::string key = PairKey(user_id, device_id);
  Result<DeviceRecord> device =
      GetRecord<DeviceRecord>(*db_, db_->devices, key, "device", DecodeDevice);
  if (!device.ok()) return device.status();
  rocksdb::WriteBatch batch;
  batch.Delete(db_->devices, key).PermitUncheckedError();
  batch.Delete(db_->device_addresses, DeviceAddressKey(*device)).PermitUncheckedError();
  rocksdb::Status s = db_->db->Write(write_options_, &batch);
  return s.ok() ? Status::Ok() : FromRocks(s, "delete device");
}

Result<std::vector<PushJobRecord>> RocksDbStore::ListPushJobs() {
  std::vector<PushJobRecord> out;
  Status s = Scan(db_->push_jobs, "", "\xff", false,
                  [&](std::string_view, std::string_view value) -> Result<bool> {
                    Result<PushJobRecord> job = DecodePushJob(value);
                    if (!job.ok()) return job.status();
                    out.push_back(std::move(*job));
                    return true;
                  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<std::pair<std::string, uint64_t>>> RocksDbStore::ListPushOutbox() {
  std::vector<std::pair<std::string, uint64_t>> out;
  Status s = Scan(db_->push_outbox, "", "\xff", false,
                  [&](std::string_view key, std::string_view) -> Result<bool> {
                    Result<uint64_t> seq = NumberFromKey(key);
                    if (!seq.ok() || key.size() < 9) return Internal("corrupt push outbox key");
                    out.emplace_back(std::string(key.substr(0, key.size() - 9)), *seq);
                    return true;
                  });
  if (!s.ok()) return s;
  return out;
}

Result<bool> RocksDbStore::IsMuted(std::string_view user_id, std::string_view conversation_id) {
  Result<std::string> value = GetValue(*db_, db_->mutes, PairKey(user_id, conversation_id), "mute");
  if (value.ok()) return true;
  if (value.status().code() == Code::kNotFound) return false;
  return value.status();
}

}  // namespace

Result<StorePtr> OpenRocksDbStore(const std::string& dir, StoreOptions options) {
  Result<std::unique_ptr<RocksDb>> db = OpenRocksDb(dir);
  if (!db.ok()) return db.status();
  uint64_t last_version = 0;
  Result<std::string> value = GetValue(**db, (*db)->meta, kLastVersionKey, "last version");
  if (value.ok()) {
    Result<uint64_t> decoded = DecodeBe64(*value);
    if (!decoded.ok()) return decoded.status();
    last_version = *decoded;
  } else if (value.status().code() != Code::kNotFound) {
    return value.status();
  }
  return StorePtr(std::make_unique<RocksDbStore>(std::move(*db), options, last_version));
}

}  // namespace parley::store
