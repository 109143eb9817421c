#include "store/rocksdb/column_families.h"

#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>

#include "store/records.h"

namespace parley::store {
namespace {

constexpr size_t kMiB = 1 << 20;
// Idempotency records older than this are dropped by compaction: far longer
// than any send window (24 h), so the index does not grow with the history.
constexpr int64_t kIdempotencyRetentionMs = 7LL * 24 * 3600 * 1000;

// Stateless, hence safe to call from several compaction threads at once.
class IdempotencyExpiry final : public rocksdb::CompactionFilter {
 public:
  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    Result<IdempotencyRecord> record = DecodeIdempotency(value.ToStringView());
    if (!record.ok()) return false;  // keep it: reads report the corruption
    auto now = std::chrono::system_clock::now().time_since_epoch();
    int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
    return record->ts < now_ms - kIdempotencyRetentionMs;
  }
  const char* Name() const override { return "parley.IdempotencyExpiry"; }
};

struct FamilySpec {
  const char* name;
  rocksdb::ColumnFamilyHandle* RocksDb::*handle;
  size_t write_buffer_size;  // the streams take most writes, the rest are small
};

const FamilySpec kFamilies[] = {
    {"users", &RocksDb::users, 4 * kMiB},
    {"tokens", &RocksDb::tokens, 4 * kMiB},
    {"conversations", &RocksDb::conversations, 4 * kMiB},
    {"members", &RocksDb::members, 4 * kMiB},
    {"user_conversations", &RocksDb::user_conversations, 4 * kMiB},
    {"entries", &RocksDb::entries, 16 * kMiB},
    {"versions", &RocksDb::versions, 8 * kMiB},
    {"idempotency", &RocksDb::idempotency, 8 * kMiB},
    {"receipts", &RocksDb::receipts, 4 * kMiB},
    {"blocks", &RocksDb::blocks, 1 * kMiB},
    {"media", &RocksDb::media, 1 * kMiB},
    {"media_refs", &RocksDb::media_refs, 1 * kMiB},
    {"media_unreferenced", &RocksDb::media_unreferenced, 1 * kMiB},
    {"media_blobs", &RocksDb::media_blobs, 1 * kMiB},
    {"message_index", &RocksDb::message_index, 4 * kMiB},
    {"refs", &RocksDb::refs, 1 * kMiB},
    {"reactions", &RocksDb::reactions, 4 * kMiB},
    {"hidden", &RocksDb::hidden, 1 * kMiB},
    {"media_messages", &RocksDb::media_messages, 1 * kMiB},
    {"meta", &RocksDb::meta, 1 * kMiB},
    // Push notifications.
    {"devices", &RocksDb::devices, 1 * kMiB},
    {"device_addresses", &RocksDb::device_addresses, 1 * kMiB},
    {"push_jobs", &RocksDb::push_jobs, 2 * kMiB},
    {"push_outbox", &RocksDb::push_outbox, 2 * kMiB},
    {"mutes", &RocksDb::mutes, 1 * kMiB},
};

bool Supported(rocksdb::CompressionType type) {
  std::vector<rocksdb::CompressionType> all = rocksdb::GetSupportedCompressions();
  return std::find(all.begin(), all.end(), type) != all.end();
}

// Sized for a small (2-core) machine that also runs the rest of the server.
rocksdb::DBOptions MakeDbOptions() {
  rocksdb::DBOptions o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.max_background_jobs = 2;
  o.bytes_per_sync = 1 * kMiB;         // smooth SST writeback instead of bursts
  o.wal_bytes_per_sync = 1 * kMiB;     // same for the WAL under --durability=os
  o.db_write_buffer_size = 64 * kMiB;  // cap on all memtables together
  // Small column families would otherwise keep old WAL files alive forever.
  o.max_total_wal_size = 128 * kMiB;
  o.max_open_files = 512;  // leave file descriptors for sockets
  o.keep_log_file_num = 4;
  o.max_log_file_size = 8 * kMiB;
  return o;
}

rocksdb::ColumnFamilyOptions MakeFamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache,
                                               size_t write_buffer_size) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.block_size = 16 * 1024;
  // Most reads are point lookups (members, users, tokens, idempotency).
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.format_version = 5;

  rocksdb::ColumnFamilyOptions o;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  o.write_buffer_size = write_buffer_size;
  o.max_write_buffer_number = 3;
  o.compaction_style = rocksdb::kCompactionStyleLevel;
  o.level_compaction_dynamic_level_bytes = true;
  o.target_file_size_base = 32 * kMiB;
  o.max_bytes_for_level_base = 128 * kMiB;
  o.compression = Supported(rocksdb::kLZ4Compression)      ? rocksdb::kLZ4Compression
                  : Supported(rocksdb::kSnappyCompression) ? rocksdb::kSnappyCompression
                                                           : rocksdb::kNoCompression;
  if (Supported(rocksdb::kZSTD)) o.bottommost_compression = rocksdb::kZSTD;
  return o;
}

// A store made before the message lifecycle has entries but no message
// index: build it (and the media references) once, when its family is new.
Status BackfillMessageIndex(RocksDb& db) {
  constexpr size_t kBatch = 10'000;
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(db.db->NewIterator(rocksdb::ReadOptions(), db.entries));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Result<EntryRecord> e = DecodeEntry(it->value().ToStringView());
    if (!e.ok()) return e.status();
    if (e->is_event || e->message_id == 0) continue;
    batch.Put(db.message_index, NumberKey(e->conversation_id, e->message_id), EncodeBe64(e->seq))
        .PermitUncheckedError();
    if (!e->media_id.empty() && ValidId(e->media_id) && !e->deleted) {
      batch.Put(db.media_messages, MediaMessageKey(e->media_id, e->conversation_id, e->seq), "")
          .PermitUncheckedError();
    }
    if (batch.Count() >= kBatch) {
      rocksdb::Status s = db.db->Write(rocksdb::WriteOptions(), &batch);
      if (!s.ok()) return FromRocks(s, "backfill message index");
      batch.Clear();
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "backfill message index");
  rocksdb::WriteOptions synced;
  synced.sync = true;
  rocksdb::Status s = db.db->Write(synced, &batch);
  return s.ok() ? Status::Ok() : FromRocks(s, "backfill message index");
}

}  // namespace

RocksDb::~RocksDb() {
  if (db == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* handle : handles) db->DestroyColumnFamilyHandle(handle);
  db->Close().PermitUncheckedError();
  delete db;
}

Result<std::unique_ptr<RocksDb>> OpenRocksDb(const std::string& dir) {
  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(32 * kMiB);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  // RocksDB requires the default family to be opened; it stays empty.
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, MakeFamilyOptions(cache, 1 * kMiB));
  static const IdempotencyExpiry kExpiry;
  for (const FamilySpec& family : kFamilies) {
    rocksdb::ColumnFamilyOptions options = MakeFamilyOptions(cache, family.write_buffer_size);
    if (family.handle == &RocksDb::idempotency) options.compaction_filter = &kExpiry;
    descriptors.emplace_back(family.name, options);
  }
  std::vector<std::string> existing;  // empty for a new database
  rocksdb::DB::ListColumnFamilies(MakeDbOptions(), dir, &existing).PermitUncheckedError();
  bool needs_index = !existing.empty() &&
                     std::find(existing.begin(), existing.end(), "message_index") == existing.end();
  auto out = std::make_unique<RocksDb>();
  rocksdb::Status s = rocksdb::DB::Open(MakeDbOptions(), dir, descriptors, &out->handles, &out->db);
  if (!s.ok()) return FromRocks(s, "open " + dir);
  for (size_t i = 0; i < std::size(kFamilies); ++i) {
    (*out).*kFamilies[i].handle = out->handles[i + 1];
  }
  if (needs_index) PARLEY_RETURN_IF_ERROR(BackfillMessageIndex(*out));
  return out;
}

std::string UnreferencedMediaKey(int64_t created_at, std::string_view media_id) {
  // Non-negative times only, so that big-endian order is time order.
  return PairKey(EncodeBe64(static_cast<uint64_t>(std::max<int64_t>(created_at, 0))), media_id);
}

Status FromRocks(const rocksdb::Status& status, std::string_view context) {
  std::string message = std::string(context) + ": " + status.ToString();
  if (status.IsCorruption()) return Internal(std::move(message));
  return Unavailable(std::move(message));
}

Result<std::string> GetValue(const RocksDb& db, rocksdb::ColumnFamilyHandle* cf,
                             std::string_view key, std::string_view what) {
  std::string value;
  rocksdb::Status s = db.db->Get(rocksdb::ReadOptions(), cf, key, &value);
  if (s.IsNotFound()) return NotFound(std::string(what) + " not found");
  if (!s.ok()) return FromRocks(s, std::string("read ") + std::string(what));
  return value;
}

}  // namespace parley::store
