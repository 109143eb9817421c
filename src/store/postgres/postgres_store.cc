#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <limits>
#include <mutex>

#include "store/postgres/pg_committer.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/schema.h"
#include "store/records.h"

namespace parley::store {
namespace {

using pg::Bool;
using pg::Bytes;
using pg::Int;
using pg::Param;
using pg::Rows;
using pg::Text;
using pg::U64;
using pg::ValidId;

// Reads run on the caller's thread (the Store contract: worker threads, never
// io threads) on one of this many pooled connections.
constexpr size_t kReadConnections = 8;

// Values of int8 columns are below 2^63: a larger bound means "no bound".
int64_t Clamp(uint64_t v) {
  return static_cast<int64_t>(std::min<uint64_t>(v, std::numeric_limits<int64_t>::max()));
}

template <typename T>
Result<std::vector<T>> DecodeAll(const Rows& rows, Result<T> (*decode)(std::string_view)) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    Result<T> record = decode(rows.Str(i, 0));
    if (!record.ok()) return record.status();
    out.push_back(std::move(*record));
  }
  return out;
}

template <typename T>
Result<T> DecodeOne(Result<Rows> rows, std::string_view what,
                    Result<T> (*decode)(std::string_view)) {
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return NotFound(std::string(what) + " not found");
  return decode(rows->Str(0, 0));
}

Status Done(const Result<Rows>& rows) { return rows.ok() ? Status::Ok() : rows.status(); }

Result<bool> Any(Result<Rows> rows) {
  if (!rows.ok()) return rows.status();
  return !rows->empty();
}

class PostgresStore final : public Store {
 public:
  PostgresStore(const pg::ConnectOptions& connect, const StoreOptions& options,
                uint64_t last_version)
      : pool_(connect, kReadConnections), committer_(connect, options, last_version) {}
  ~PostgresStore() override { Close(); }

  Status CreateUser(const UserRecord& user) override {
    if (!ValidId(user.user_id)) return BadRequest("invalid user id");
    Result<Rows> rows = Write(
        "INSERT INTO users (user_id, body) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        {Text(user.user_id), Bytes(EncodeUser(user))});
    if (!rows.ok()) return rows.status();
    return rows->empty() ? Conflict("user id is taken") : Status::Ok();
  }
  Result<UserRecord> GetUser(std::string_view user_id) override {
    return DecodeOne(Read("SELECT body FROM users WHERE user_id = $1", {Text(user_id)}), "user",
                     DecodeUser);
  }
  Status UpdateUser(const UserRecord& user) override {
    Result<Rows> rows = Write("UPDATE users SET body = $2 WHERE user_id = $1 RETURNING 1",
                             {Text(user.user_id), Bytes(EncodeUser(user))});
    if (!rows.ok()) return rows.status();
    return rows->empty() ? NotFound("user not found") : Status::Ok();
  }

  Status PutToken(const TokenRecord& token) override {
    return Done(Write(
        "INSERT INTO tokens (token_hash, body) VALUES ($1, $2) "
        "ON CONFLICT (token_hash) DO UPDATE SET body = EXCLUDED.body",
        {Text(token.token_hash), Bytes(EncodeToken(token))}));
  }
  Result<TokenRecord> GetToken(std::string_view token_hash) override {
    return DecodeOne(Read("SELECT body FROM tokens WHERE token_hash = $1", {Text(token_hash)}),
                     "token", DecodeToken);
  }
  Status DeleteToken(std::string_view token_hash) override {
    return Done(Write("DELETE FROM tokens WHERE token_hash = $1", {Text(token_hash)}));
  }

  void Append(AppendRequest request, AppendCallback done) override {
    committer_.Submit(std::move(request), std::move(done));
  }
  Result<ConversationRecord> GetConversation(std::string_view conversation_id) override {
    return DecodeOne(
        Read("SELECT body FROM conversations WHERE conversation_id = $1", {Text(conversation_id)}),
        "conversation", DecodeConversation);
  }
  Result<MemberRecord> GetMember(std::string_view conversation_id,
                                 std::string_view user_id) override {
    if (!ValidId(conversation_id) || !ValidId(user_id)) return NotFound("member not found");
    return DecodeOne(Read("SELECT body FROM members WHERE conversation_id = $1 AND user_id = $2",
                          {Text(conversation_id), Text(user_id)}),
                     "member", DecodeMember);
  }
  Result<std::vector<MemberRecord>> ListMembers(std::string_view conversation_id,
                                                std::string_view after_user,
                                                size_t limit) override {
    if (!ValidId(conversation_id)) return BadRequest("invalid conversation id");
    return List(
        "SELECT body FROM members WHERE conversation_id = $1 AND current AND user_id > $2 "
        "ORDER BY user_id LIMIT $3",
        {Text(conversation_id), Text(after_user), Int(Clamp(limit))}, DecodeMember);
  }
  Result<std::vector<MemberRecord>> ListUserConversations(std::string_view user_id) override {
    if (!ValidId(user_id)) return BadRequest("invalid user id");
    return List("SELECT body FROM members WHERE user_id = $1 ORDER BY conversation_id",
                {Text(user_id)}, DecodeMember);
  }
  Result<std::vector<EntryRecord>> ReadEntries(std::string_view conversation_id,
                                               uint64_t after_seq, uint64_t before_seq,
                                               size_t limit, bool newest_first) override;
  Result<std::vector<EntryRecord>> ReadSinceVersion(std::string_view conversation_id,
                                                    uint64_t after_version,
                                                    size_t limit) override {
    if (!ValidId(conversation_id)) return BadRequest("invalid conversation id");
    if (limit == 0 || after_version >= uint64_t{std::numeric_limits<int64_t>::max()}) {
      return std::vector<EntryRecord>{};
    }
    return List(
        "SELECT body FROM entries WHERE conversation_id = $1 AND version > $2 "
        "ORDER BY version LIMIT $3",
        {Text(conversation_id), U64(after_version), Int(Clamp(limit))}, DecodeEntry);
  }
  Result<IdempotencyRecord> GetIdempotency(std::string_view sender,
                                           std::string_view client_msg_id) override {
    return DecodeOne(Read("SELECT body FROM idempotency WHERE sender = $1 AND client_msg_id = $2",
                          {Text(sender), Text(client_msg_id)}),
                     "idempotency record", DecodeIdempotency);
  }
  Result<std::vector<ReceiptRecord>> ListReceipts(std::string_view conversation_id) override {
    return List("SELECT body FROM receipts WHERE conversation_id = $1 ORDER BY user_id",
                {Text(conversation_id)}, DecodeReceipt);
  }

  Result<EntryRecord> GetMessage(std::string_view conversation_id, uint64_t message_id) override {
    if (!ValidId(conversation_id)) return NotFound("no such message");
    return DecodeOne(Read("SELECT body FROM entries WHERE conversation_id = $1 AND message_id = $2",
                          {Text(conversation_id), U64(message_id)}),
                     "message", DecodeEntry);
  }
  Result<std::vector<HiddenRecord>> ListHidden(std::string_view conversation_id,
                                               std::string_view user_id) override {
    if (!ValidId(conversation_id) || !ValidId(user_id)) return std::vector<HiddenRecord>{};
    return List("SELECT body FROM hidden WHERE conversation_id = $1 AND user_id = $2 ORDER BY seq",
                {Text(conversation_id), Text(user_id)}, DecodeHidden);
  }
  Result<bool> HasLiveMediaReference(std::string_view media_id) override {
    if (!ValidId(media_id)) return false;
    return Any(Read("SELECT 1 FROM media_messages WHERE media_id = $1 LIMIT 1", {Text(media_id)}));
  }
  Result<std::vector<ConversationRecord>> ListConversations(std::string_view after_id,
                                                            size_t limit) override {
    return List(
        "SELECT body FROM conversations WHERE conversation_id > $1 ORDER BY conversation_id "
        "LIMIT $2",
        {Text(after_id), Int(Clamp(limit))}, DecodeConversation);
  }

  Status SetBlocked(std::string_view blocker, std::string_view blocked, bool on) override {
    return Done(Write(on ? "INSERT INTO blocks (blocker, blocked) VALUES ($1, $2) "
                           "ON CONFLICT DO NOTHING"
                         : "DELETE FROM blocks WHERE blocker = $1 AND blocked = $2",
                      {Text(blocker), Text(blocked)}));
  }
  Result<bool> IsBlocked(std::string_view blocker, std::string_view blocked) override {
    return Any(Read("SELECT 1 FROM blocks WHERE blocker = $1 AND blocked = $2",
                    {Text(blocker), Text(blocked)}));
  }
  Result<std::vector<std::string>> ListBlocked(std::string_view blocker) override;

  Result<DevicePut> PutDevice(const DeviceRecord& device) override;
  Result<DeviceRecord> GetDevice(std::string_view user_id, std::string_view device_id) override {
    return DecodeOne(Read("SELECT body FROM devices WHERE user_id = $1 AND device_id = $2",
                          {Text(user_id), Text(device_id)}),
                     "device", DecodeDevice);
  }
  Result<std::vector<DeviceRecord>> ListDevices(std::string_view user_id) override {
    if (!ValidId(user_id)) return BadRequest("invalid user id");
    return List("SELECT body FROM devices WHERE user_id = $1 ORDER BY device_id", {Text(user_id)},
                DecodeDevice);
  }
  Status DeleteDevice(std::string_view user_id, std::string_view device_id) override {
    if (!ValidId(user_id) || !ValidId(device_id)) return NotFound("device not found");
    Result<Rows> rows =
        Write("DELETE FROM devices WHERE user_id = $1 AND device_id = $2 RETURNING 1",
              {Text(user_id), Text(device_id)});
    if (!rows.ok()) return rows.status();
    return rows->empty() ? NotFound("device not found") : Status::Ok();
  }
  Status PutPushJob(const PushJobRecord& job) override {
    if (!ValidId(job.job_id)) return BadRequest("invalid push job id");
    return Done(Write(
        "INSERT INTO push_jobs (job_id, body) VALUES ($1, $2) "
        "ON CONFLICT (job_id) DO UPDATE SET body = EXCLUDED.body",
        {Text(job.job_id), Bytes(EncodePushJob(job))}));
  }
  Status DeletePushJob(std::string_view job_id) override {
    return Done(Write("DELETE FROM push_jobs WHERE job_id = $1", {Text(job_id)}));
  }
  Result<std::vector<PushJobRecord>> ListPushJobs() override {
    return List("SELECT body FROM push_jobs ORDER BY job_id", {}, DecodePushJob);
  }
  Result<std::vector<std::pair<std::string, uint64_t>>> ListPushOutbox() override;
  Status DeletePushOutbox(std::string_view conversation_id, uint64_t seq) override {
    return Done(Write("DELETE FROM push_outbox WHERE conversation_id = $1 AND seq = $2",
                      {Text(conversation_id), U64(seq)}));
  }
  Status SetMuted(std::string_view user_id, std::string_view conversation_id,
                  bool muted) override {
    return Done(Write(muted ? "INSERT INTO mutes (user_id, conversation_id) VALUES ($1, $2) "
                              "ON CONFLICT DO NOTHING"
                            : "DELETE FROM mutes WHERE user_id = $1 AND conversation_id = $2",
                      {Text(user_id), Text(conversation_id)}));
  }
  Result<bool> IsMuted(std::string_view user_id, std::string_view conversation_id) override {
    return Any(Read("SELECT 1 FROM mutes WHERE user_id = $1 AND conversation_id = $2",
                    {Text(user_id), Text(conversation_id)}));
  }

  Status PutMedia(const MediaRecord& media) override {
    if (!ValidId(media.media_id) || !ValidId(media.sha256)) return BadRequest("invalid media id");
    Result<Rows> rows = Write(
        "INSERT INTO media (media_id, sha256, created_at, unreferenced, body) "
        "VALUES ($1, $2, $3, true, $4) ON CONFLICT DO NOTHING RETURNING 1",
        {Text(media.media_id), Text(media.sha256), Int(media.created_at),
         Bytes(EncodeMedia(media))});
    if (!rows.ok()) return rows.status();
    return rows->empty() ? Conflict("media id is taken") : Status::Ok();
  }
  Result<MediaRecord> GetMedia(std::string_view media_id) override {
    if (!ValidId(media_id)) return NotFound("media not found");
    return DecodeOne(Read("SELECT body FROM media WHERE media_id = $1", {Text(media_id)}),
                     "media", DecodeMedia);
  }
  Result<std::vector<MediaRefRecord>> ListMediaRefs(std::string_view media_id) override {
    if (!ValidId(media_id)) return std::vector<MediaRefRecord>{};
    return List("SELECT body FROM media_refs WHERE media_id = $1 ORDER BY conversation_id",
                {Text(media_id)}, DecodeMediaRef);
  }
  Result<std::vector<MediaRecord>> ListUnreferencedMedia(int64_t created_before,
                                                         size_t limit) override {
    if (limit == 0 || created_before <= 0) return std::vector<MediaRecord>{};
    return List(
        "SELECT body FROM media WHERE unreferenced AND created_at < $1 "
        "ORDER BY created_at, media_id LIMIT $2",
        {Int(created_before), Int(Clamp(limit))}, DecodeMedia);
  }
  Result<bool> DeleteUnreferencedMedia(std::string_view media_id) override;
  Result<bool> HasMediaWithSha256(std::string_view sha256) override {
    if (!ValidId(sha256)) return false;
    return Any(Read("SELECT 1 FROM media WHERE sha256 = $1 LIMIT 1", {Text(sha256)}));
  }

  uint64_t CommittedVersion() const override { return committer_.CommittedVersion(); }
  // The counter row is locked by each append transaction until it commits, so
  // versions commit in order: all up to the stored counter are committed.
  Result<uint64_t> SharedCommittedVersion() override {
    Result<Rows> counter = Read("SELECT last_version FROM store_meta WHERE id = 1", {});
    if (!counter.ok()) return counter.status();
    if (counter->empty()) return Internal("postgres: store_meta has no counter row");
    return counter->U64(0, 0);
  }
  Status Ping() override {
    {
      std::lock_guard lock(close_mu_);
      if (closed_) return Unavailable("store is closed");
    }
    return Done(Read("SELECT 1", {}));
  }
  void Close() override {
    std::lock_guard lock(close_mu_);
    if (closed_) return;
    closed_ = true;
    committer_.Close();
  }
  Stats GetStats() const override { return committer_.GetStats(); }

 private:
  // A read: retried once on a fresh connection when a pooled one turns out
  // to be broken (the server restarted while it sat idle).
  Result<Rows> Read(std::string_view sql, const std::vector<Param>& params) {
    Result<Rows> rows = Write(sql, params);
    if (rows.ok() || rows.status().code() != Code::kUnavailable) return rows;
    return Write(sql, params);
  }
  // A statement on a pooled connection, in its own implicit transaction.
  Result<Rows> Write(std::string_view sql, const std::vector<Param>& params) {
    Result<pg::Pool::Lease> conn = pool_.Acquire();
    if (!conn.ok()) return conn.status();
    return (*conn)->Exec(sql, params);
  }
  // `body(conn)` inside BEGIN ... COMMIT on a pooled connection.
  template <typename Body>
  Status Transaction(Body body) {
    Result<pg::Pool::Lease> lease = pool_.Acquire();
    if (!lease.ok()) return lease.status();
    pg::Connection& conn = **lease;
    return pg::InTransaction(conn, [&] { return body(conn); });
  }
  template <typename T>
  Result<std::vector<T>> List(std::string_view sql, const std::vector<Param>& params,
                              Result<T> (*decode)(std::string_view)) {
    Result<Rows> rows = Read(sql, params);
    if (!rows.ok()) return rows.status();
    return DecodeAll(*rows, decode);
  }

  pg::Pool pool_;
  pg::Committer committer_;
  std::mutex close_mu_;
  bool closed_ = false;  // guarded by close_mu_
};

Result<std::vector<EntryRecord>> PostgresStore::ReadEntries(std::string_view conversation_id,
                                                            uint64_t after_seq,
                                                            uint64_t before_seq, size_t limit,
                                                            bool newest_first) {
  if (!ValidId(conversation_id)) return BadRequest("invalid conversation id");
  std::vector<EntryRecord> out;
  if (limit == 0 || after_seq >= uint64_t{std::numeric_limits<int64_t>::max()}) return out;
  if (before_seq != 0 && before_seq <= after_seq + 1) return out;
  uint64_t upper = before_seq == 0 ? std::numeric_limits<uint64_t>::max() : before_seq;
  Result<std::vector<EntryRecord>> entries =
      List(newest_first ? "SELECT body FROM entries WHERE conversation_id = $1 AND seq > $2 "
                          "AND seq < $3 ORDER BY seq DESC LIMIT $4"
                        : "SELECT body FROM entries WHERE conversation_id = $1 AND seq > $2 "
                          "AND seq < $3 ORDER BY seq LIMIT $4",
           {Text(conversation_id), U64(after_seq), Int(Clamp(upper)), Int(Clamp(limit))}, DecodeEntry);
  if (entries.ok() && newest_first) std::reverse(entries->begin(), entries->end());
  return entries;
}

Result<std::vector<std::string>> PostgresStore::ListBlocked(std::string_view blocker) {
  Result<Rows> rows =
      Read("SELECT blocked FROM blocks WHERE blocker = $1 ORDER BY blocked", {Text(blocker)});
  if (!rows.ok()) return rows.status();
  std::vector<std::string> out;
  for (int i = 0; i < rows->size(); ++i) out.emplace_back(rows->Str(i, 0));
  return out;
}

Result<std::vector<std::pair<std::string, uint64_t>>> PostgresStore::ListPushOutbox() {
  Result<Rows> rows =
      Read("SELECT conversation_id, seq FROM push_outbox ORDER BY conversation_id, seq", {});
  if (!rows.ok()) return rows.status();
  std::vector<std::pair<std::string, uint64_t>> out;
  for (int i = 0; i < rows->size(); ++i) out.emplace_back(rows->Str(i, 0), rows->U64(i, 1));
  return out;
}

// One physical target (platform, token, url) belongs to one user: the
// transaction locks the address (an advisory lock, as it may have no row
// yet) and moves it when another user registers it.
Result<DevicePut> PostgresStore::PutDevice(const DeviceRecord& device) {
  if (!ValidId(device.user_id) || !ValidId(device.device_id)) return BadRequest("invalid device");
  DevicePut out;
  Status s = Transaction([&](pg::Connection& conn) -> Status {
    std::vector<Param> address = {Text(device.platform), Text(device.token), Text(device.url)};
    PARLEY_RETURN_IF_ERROR(Done(conn.Exec(
        "SELECT pg_advisory_xact_lock(hashtext($1 || chr(1) || $2 || chr(1) || $3))", address)));
    Result<Rows> owner = conn.Exec(
        "SELECT body FROM devices WHERE platform = $1 AND token = $2 AND url = $3", address);
    if (!owner.ok()) return owner.status();
    if (!owner->empty()) {
      Result<DeviceRecord> previous = DecodeDevice(owner->Str(0, 0));
      if (!previous.ok()) return previous.status();
      if (previous->user_id == device.user_id) {
        out.stored = std::move(*previous);
        out.existed = true;
        return Status::Ok();
      }
      PARLEY_RETURN_IF_ERROR(
          Done(conn.Exec("DELETE FROM devices WHERE user_id = $1 AND device_id = $2",
                         {Text(previous->user_id), Text(previous->device_id)})));
      out.displaced = std::move(*previous);
    }
    out.stored = device;
    return Done(conn.Exec(
        "INSERT INTO devices (user_id, device_id, platform, token, url, body) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, device_id) DO UPDATE SET "
        "platform = EXCLUDED.platform, token = EXCLUDED.token, url = EXCLUDED.url, "
        "body = EXCLUDED.body",
        {Text(device.user_id), Text(device.device_id), Text(device.platform), Text(device.token),
         Text(device.url), Bytes(EncodeDevice(device))}));
  });
  if (!s.ok()) return s;
  return out;
}

// The row lock on the media record orders this against appends that carry
// the media (they share-lock it): either they see it gone, or it sees their
// reference.
Result<bool> PostgresStore::DeleteUnreferencedMedia(std::string_view media_id) {
  if (!ValidId(media_id)) return false;
  bool deleted = false;
  Status s = Transaction([&](pg::Connection& conn) -> Status {
    Result<bool> exists =
        Any(conn.Exec("SELECT 1 FROM media WHERE media_id = $1 FOR UPDATE", {Text(media_id)}));
    if (!exists.ok()) return exists.status();
    if (!*exists) return Status::Ok();
    Result<bool> referenced =
        Any(conn.Exec("SELECT 1 FROM media_refs WHERE media_id = $1 LIMIT 1", {Text(media_id)}));
    if (!referenced.ok()) return referenced.status();
    if (*referenced) return Status::Ok();
    deleted = true;
    return Done(conn.Exec("DELETE FROM media WHERE media_id = $1", {Text(media_id)}));
  });
  if (!s.ok()) return s;
  return deleted;
}

}  // namespace

bool IsPostgresUrl(std::string_view url) {
  return url.starts_with("postgres://") || url.starts_with("postgresql://");
}

Result<StorePtr> OpenPostgresStore(const std::string& url, StoreOptions options) {
  if (!IsPostgresUrl(url)) return BadRequest("not a postgres:// URL: " + url);
  pg::ConnectOptions connect;
  connect.url = url;
  connect.synchronous_commit = options.sync_writes;
  Result<std::unique_ptr<pg::Connection>> conn = pg::Connection::Open(connect);
  if (!conn.ok()) return conn.status();
  Result<int> migrated = pg::Migrate(**conn);
  if (!migrated.ok()) return migrated.status();
  Result<Rows> counter = (*conn)->Exec("SELECT last_version FROM store_meta WHERE id = 1");
  if (!counter.ok()) return counter.status();
  if (counter->empty()) return Internal("postgres: store_meta has no counter row");
  return StorePtr(std::make_unique<PostgresStore>(connect, options, counter->U64(0, 0)));
}

}  // namespace parley::store
