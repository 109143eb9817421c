// RocksDB-specific behaviour below the Store interface.
#include "store/rocksdb/column_families.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <future>

#include "store/records.h"
#include "store/rocksdb/rocksdb_store.h"

namespace parley::store {
namespace {

class ColumnFamiliesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "parley_cf_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ColumnFamiliesTest, CompactionDropsExpiredIdempotencyRecords) {
  Result<std::unique_ptr<RocksDb>> db = OpenRocksDb(dir_);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  RocksDb& d = **db;
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  IdempotencyRecord old_record{"alice", "old", "c", 1, 1, now - 30LL * 24 * 3600 * 1000};
  IdempotencyRecord fresh{"alice", "fresh", "c", 2, 2, now};
  for (const IdempotencyRecord& r : {old_record, fresh}) {
    ASSERT_TRUE(d.db->Put(rocksdb::WriteOptions(), d.idempotency,
                          PairKey(r.sender, r.client_msg_id), EncodeIdempotency(r))
                    .ok());
  }
  ASSERT_TRUE(d.db->Flush(rocksdb::FlushOptions(), d.idempotency).ok());
  ASSERT_TRUE(
      d.db->CompactRange(rocksdb::CompactRangeOptions(), d.idempotency, nullptr, nullptr).ok());
  EXPECT_EQ(GetValue(d, d.idempotency, PairKey("alice", "old"), "x").status().code(),
            Code::kNotFound);
  EXPECT_TRUE(GetValue(d, d.idempotency, PairKey("alice", "fresh"), "x").ok());
}

TEST_F(ColumnFamiliesTest, SecondOpenOfTheSameDirectoryIsUnavailable) {
  Result<StorePtr> first = OpenRocksDbStore(dir_, {});
  ASSERT_TRUE(first.ok());
  Result<StorePtr> second = OpenRocksDbStore(dir_, {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
}

TEST_F(ColumnFamiliesTest, OpeningAStoreFromBeforeTheMessageIndexBuildsIt) {
  uint64_t message_id = 0;
  {
    Result<StorePtr> store = OpenRocksDbStore(dir_, {});
    ASSERT_TRUE(store.ok());
    AppendRequest request;
    request.entry.conversation_id = "c";
    request.entry.ts = 1;
    request.entry.message_id = 77;
    request.entry.sender = "alice";
    request.entry.content = "old";
    request.entry.media_id = "m1";
    request.create_if_missing = ConversationRecord{};
    MediaRecord media;
    media.media_id = "m1";
    media.sha256 = "aa";
    ASSERT_TRUE((*store)->PutMedia(media).ok());
    std::promise<Result<AppendResult>> done;
    (*store)->Append(request, [&](Result<AppendResult> r) { done.set_value(r); });
    ASSERT_TRUE(done.get_future().get().ok());
    message_id = request.entry.message_id;
  }
  {  // what an older version left: the entries, no lifecycle families
    Result<std::unique_ptr<RocksDb>> db = OpenRocksDb(dir_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->db->DropColumnFamily((*db)->message_index).ok());
    ASSERT_TRUE((*db)->db->DropColumnFamily((*db)->media_messages).ok());
  }
  Result<StorePtr> store = OpenRocksDbStore(dir_, {});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<EntryRecord> found = (*store)->GetMessage("c", message_id);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->content, "old");
  EXPECT_TRUE(*(*store)->HasLiveMediaReference("m1"));
}

TEST_F(ColumnFamiliesTest, CorruptLastVersionFailsTheOpen) {
  {
    Result<std::unique_ptr<RocksDb>> db = OpenRocksDb(dir_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->db->Put(rocksdb::WriteOptions(), (*db)->meta, kLastVersionKey, "bad").ok());
  }
  Result<StorePtr> store = OpenRocksDbStore(dir_, {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kInternal);
}

}  // namespace
}  // namespace parley::store
