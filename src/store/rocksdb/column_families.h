// The open RocksDB database of a RocksDbStore: one column family per kind of
// record, so each gets its own key space, memtable and tuning.
//
//   users               user_id                      -> UserRecord
//   tokens              token_hash                   -> TokenRecord
//   conversations       conversation_id              -> ConversationRecord
//   members             conv \0 user                 -> MemberRecord (current members only)
//   user_conversations  user \0 conv                 -> MemberRecord (current and former)
//   entries             conv \0 be64(seq)            -> EntryRecord
//   versions            conv \0 be64(version)        -> be64(seq)  (the sync index)
//   idempotency         sender \0 client_msg_id      -> IdempotencyRecord
//   receipts            conv \0 user                 -> ReceiptRecord
//   blocks              blocker \0 blocked           -> "" (present: blocked)
//   media               media_id                     -> MediaRecord
//   media_refs          media_id \0 conv             -> MediaRefRecord
//   media_unreferenced  be64(created_at) \0 media_id -> "" (no message carried it yet: GC candidates)
//   media_blobs         sha256 \0 media_id           -> "" (which records share a file)
//   message_index       conv \0 be64(message_id)     -> be64(seq)  (messages only)
//   refs                conv \0 be64(target_seq) be64(seq) -> ""  (edits and replies of a message)
//   reactions           conv \0 be64(seq) \0 user    -> emoji
//   hidden              conv \0 user \0 be64(seq)    -> HiddenRecord ("delete for me")
//   media_messages      media_id \0 conv \0 be64(seq) -> "" (live messages carrying the media)
//   meta                "last_version"               -> be64
//   devices             user \0 device_id            -> DeviceRecord           (push)
//   device_addresses    platform \0 token \0 url      -> user \0 device_id      (push)
//   push_jobs           job_id                       -> PushJobRecord          (push)
//   push_outbox         conv \0 be64(seq)            -> ""  (pushes not planned yet)
//   mutes               user \0 conv                 -> "" (present: muted)    (push)
#pragma once

#include <rocksdb/db.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/records.h"

namespace parley::store {

inline constexpr std::string_view kLastVersionKey = "last_version";

struct RocksDb {
  RocksDb() = default;
  RocksDb(const RocksDb&) = delete;
  RocksDb& operator=(const RocksDb&) = delete;
  ~RocksDb();  // destroys the handles, then closes the database

  rocksdb::DB* db = nullptr;                          // owned
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // owned; every one below
  rocksdb::ColumnFamilyHandle* users = nullptr;
  rocksdb::ColumnFamilyHandle* tokens = nullptr;
  rocksdb::ColumnFamilyHandle* conversations = nullptr;
  rocksdb::ColumnFamilyHandle* members = nullptr;
  rocksdb::ColumnFamilyHandle* user_conversations = nullptr;
  rocksdb::ColumnFamilyHandle* entries = nullptr;
  rocksdb::ColumnFamilyHandle* versions = nullptr;
  rocksdb::ColumnFamilyHandle* idempotency = nullptr;
  rocksdb::ColumnFamilyHandle* receipts = nullptr;
  rocksdb::ColumnFamilyHandle* blocks = nullptr;
  rocksdb::ColumnFamilyHandle* media = nullptr;
  rocksdb::ColumnFamilyHandle* media_refs = nullptr;
  rocksdb::ColumnFamilyHandle* media_unreferenced = nullptr;
  rocksdb::ColumnFamilyHandle* media_blobs = nullptr;
  rocksdb::ColumnFamilyHandle* message_index = nullptr;
  rocksdb::ColumnFamilyHandle* refs = nullptr;
  rocksdb::ColumnFamilyHandle* reactions = nullptr;
  rocksdb::ColumnFamilyHandle* hidden = nullptr;
  rocksdb::ColumnFamilyHandle* media_messages = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  // Push notifications.
  rocksdb::ColumnFamilyHandle* devices = nullptr;
  rocksdb::ColumnFamilyHandle* device_addresses = nullptr;
  rocksdb::ColumnFamilyHandle* push_jobs = nullptr;
  rocksdb::ColumnFamilyHandle* push_outbox = nullptr;
  rocksdb::ColumnFamilyHandle* mutes = nullptr;
};

// The media_unreferenced key of a media record.
std::string UnreferencedMediaKey(int64_t created_at, std::string_view media_id);

// Ids are key parts separated by 0x00, so they must not contain one.
inline bool ValidId(std::string_view id) {
  return !id.empty() && id.find('\0') == std::string_view::npos;
}

// Keys of the message lifecycle families (layouts above).
inline std::string RefKey(std::string_view conv, uint64_t target_seq, uint64_t seq) {
  return NumberKey(conv, target_seq) + EncodeBe64(seq);
}
inline std::string ReactionKey(std::string_view conv, uint64_t seq, std::string_view user) {
  return PairKey(NumberKey(conv, seq), user);
}
inline std::string HiddenKey(std::string_view conv, std::string_view user, uint64_t seq) {
  return NumberKey(PairKey(conv, user), seq);
}
inline std::string MediaMessageKey(std::string_view media_id, std::string_view conv, uint64_t seq) {
  return PairKey(media_id, NumberKey(conv, seq));
}

// Opens (creating when missing) the database in `dir`.
Result<std::unique_ptr<RocksDb>> OpenRocksDb(const std::string& dir);

// A RocksDB error as a Status: corruption is kInternal, anything else
// (I/O errors, a full disk, a locked directory) kUnavailable.
Status FromRocks(const rocksdb::Status& status, std::string_view context);

// The value at `key`; NotFound("<what> not found") when absent.
Result<std::string> GetValue(const RocksDb& db, rocksdb::ColumnFamilyHandle* cf,
                             std::string_view key, std::string_view what);

}  // namespace parley::store
