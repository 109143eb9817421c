// PostgreSQL-specific behaviour on a real server: several stores (each with
// its own connections and committer, as separate servers would have)
// appending to one conversation, migrations, partitioning, and outages.
// The typed suite (store_test) covers the Store semantics themselves.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "store/postgres/pg_connection.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/schema.h"
#include "store/postgres/test_postgres.h"

namespace parley::store {
namespace {

constexpr auto kNoHang = std::chrono::seconds(60);  // a guard against hangs, not a timing check

// Idempotency records expire a week after their ts (wall clock), like RocksDB's.
int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<pg::TestPostgres*> server = pg::TestPostgres::Shared();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = *server;
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    Result<std::string> url = server_->Database(std::string("pg_") + info->name());
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    url_ = *url;
  }

  StorePtr OpenStore() {
    Result<StorePtr> store = OpenPostgresStore(url_, {});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  static std::future<Result<AppendResult>> AppendAsync(Store& store, AppendRequest request) {
    auto promise = std::make_shared<std::promise<Result<AppendResult>>>();
    auto future = promise->get_future();
    store.Append(std::move(request),
                 [promise](Result<AppendResult> r) { promise->set_value(std::move(r)); });
    return future;
  }

  static Result<AppendResult> AppendSync(Store& store, AppendRequest request) {
    auto future = AppendAsync(store, std::move(request));
    if (future.wait_for(kNoHang) != std::future_status::ready) return Internal("append hung");
    return future.get();
  }

  static AppendRequest Message(const std::string& sender, uint64_t message_id,
                               const std::string& client_msg_id = "") {
    AppendRequest r;
    r.entry.conversation_id = "room";
    r.entry.sender = sender;
    r.entry.type = "text";
    r.entry.content = "m" + std::to_string(message_id);
    r.entry.ts = NowMs();
    r.entry.message_id = message_id;
    r.entry.client_msg_id = client_msg_id;
    r.idempotent = !client_msg_id.empty();
    r.require_member = sender;
    return r;
  }

  static AppendRequest CreateRoom(const std::vector<std::string>& members) {
    AppendRequest r;
    r.entry.conversation_id = "room";
    r.entry.is_event = true;
    r.entry.kind = "created";
    r.entry.actor = members[0];
    r.entry.ts = 1'700'000'000'000;
    r.create_if_missing.emplace();
    r.create_if_missing->kind = ConversationKind::kGroup;
    for (const std::string& m : members) {
      MemberRecord member;
      member.user_id = m;
      r.add_members.push_back(member);
    }
    return r;
  }

  pg::TestPostgres* server_ = nullptr;
  std::string url_;
};

TEST_F(PostgresStoreTest, ConcurrentStoresAssignGapFreeSeqsAndHonourIdempotency) {
  constexpr int kStores = 4, kSenders = 3, kPerSender = 40;
  std::vector<StorePtr> stores;
  for (int i = 0; i < kStores; ++i) stores.push_back(OpenStore());
  std::vector<std::string> senders;
  for (int s = 0; s < kStores * kSenders; ++s) senders.push_back("u" + std::to_string(s));
  ASSERT_TRUE(AppendSync(*stores[0], CreateRoom(senders)).ok());

  // Every sender sends each message twice (a retry with the same
  // client_msg_id), the retry through another store.
  std::vector<std::thread> threads;
  std::mutex mu;
  std::map<std::string, uint64_t> acked;  // client_msg_id -> seq, from first and retried sends
  std::vector<std::string> failures;
  for (int s = 0; s < kStores * kSenders; ++s) {
    threads.emplace_back([&, s] {
      std::vector<std::pair<std::string, std::future<Result<AppendResult>>>> pending;
      for (int i = 0; i < kPerSender; ++i) {
        std::string key = senders[s] + "-" + std::to_string(i);
        uint64_t id = 1'000'000 + s * 1000 + i;
        pending.emplace_back(key, AppendAsync(*stores[s % kStores], Message(senders[s], id, key)));
        pending.emplace_back(key,
                             AppendAsync(*stores[(s + 1) % kStores], Message(senders[s], id, key)));
      }
      for (auto& [key, future] : pending) {
        Result<AppendResult> r = future.get();
        std::lock_guard lock(mu);
        if (!r.ok()) {
          failures.push_back(r.status().ToString());
          continue;
        }
        uint64_t seq = r->duplicate_of ? r->duplicate_of->seq : r->entry.seq;
        auto [it, inserted] = acked.emplace(key, seq);
        if (!inserted && it->second != seq) failures.push_back(key + " acked with two seqs");
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();

  const uint64_t total = 1 + kStores * kSenders * kPerSender;  // "created" + each message once
  Result<ConversationRecord> room = stores[0]->GetConversation("room");
  ASSERT_TRUE(room.ok());
  EXPECT_EQ(room->last_seq, total);
  Result<std::vector<EntryRecord>> entries = stores[0]->ReadEntries("room", 0, 0, 100'000, false);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), total);
  std::set<uint64_t> message_ids;
  for (size_t i = 0; i < entries->size(); ++i) {
    const EntryRecord& e = (*entries)[i];
    EXPECT_EQ(e.seq, i + 1);  // gap-free and strictly increasing
    if (i > 0) {
      EXPECT_GT(e.version, (*entries)[i - 1].version);
    }
    if (!e.is_event) {
      EXPECT_TRUE(message_ids.insert(e.message_id).second) << "duplicate";
    }
  }
  std::set<uint64_t> acked_seqs;
  for (const auto& [key, seq] : acked) acked_seqs.insert(seq);
  EXPECT_EQ(acked_seqs.size(), acked.size());  // each send stored once, under its own seq
  EXPECT_EQ(acked.size(), size_t{kStores * kSenders * kPerSender});
}

TEST_F(PostgresStoreTest, VersionsRiseInCommitOrderAcrossStores) {
  StorePtr a = OpenStore(), b = OpenStore();
  ASSERT_TRUE(AppendSync(*a, CreateRoom({"alice"})).ok());
  uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    Store& store = i % 2 ? *a : *b;
    Result<AppendResult> r = AppendSync(store, Message("alice", 5000 + i));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_GT(r->entry.version, last);
    last = r->entry.version;
    EXPECT_GE(store.CommittedVersion(), last);
  }
  // A store opened later starts from what every store committed.
  EXPECT_EQ(OpenStore()->CommittedVersion(), last);
}

TEST_F(PostgresStoreTest, MigrationsRunOnceAndAgainAreANoOp) {
  StorePtr store = OpenStore();  // applied them
  ASSERT_TRUE(AppendSync(*store, CreateRoom({"alice"})).ok());
  pg::ConnectOptions options;
  options.url = url_;
  auto conn = pg::Connection::Open(options);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  Result<int> again = pg::Migrate(**conn);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, 0);
  auto rows = (*conn)->Exec("SELECT count(*)::int8, max(version)::int8 FROM schema_migrations");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->Int(0, 0), static_cast<int64_t>(pg::Migrations().size()));
  EXPECT_EQ(rows->Int(0, 1), pg::Migrations().back().version);
  store.reset();
  EXPECT_EQ(OpenStore()->GetConversation("room")->last_seq, 1u);  // data kept
}

TEST_F(PostgresStoreTest, EntriesAreHashPartitionedByConversation) {
  StorePtr store = OpenStore();
  ASSERT_TRUE(AppendSync(*store, CreateRoom({"alice"})).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(AppendSync(*store, Message("alice", 7000 + i)).ok());
  pg::ConnectOptions options;
  options.url = url_;
  auto conn = pg::Connection::Open(options);
  ASSERT_TRUE(conn.ok());
  auto partitions = (*conn)->Exec(
      "SELECT count(*)::int8 FROM pg_inherits WHERE inhparent = 'entries'::regclass");
  ASSERT_TRUE(partitions.ok());
  EXPECT_EQ(partitions->Int(0, 0), 16);
  auto placed = (*conn)->Exec(
      "SELECT count(DISTINCT tableoid)::int8, count(*)::int8 FROM entries "
      "WHERE conversation_id = 'room'");
  ASSERT_TRUE(placed.ok());
  EXPECT_EQ(placed->Int(0, 0), 1);  // one conversation, one partition
  EXPECT_EQ(placed->Int(0, 1), 6);
}

TEST_F(PostgresStoreTest, OutageFailsFastThenRecoversWithoutLosingAcks) {
  StorePtr store = OpenStore();
  ASSERT_TRUE(AppendSync(*store, CreateRoom({"alice"})).ok());
  std::vector<uint64_t> acked;
  for (int i = 0; i < 5; ++i) {
    Result<AppendResult> r = AppendSync(*store, Message("alice", 9000 + i, "k" + std::to_string(i)));
    ASSERT_TRUE(r.ok());
    acked.push_back(r->entry.seq);
  }

  server_->Stop();
  Result<AppendResult> down = AppendSync(*store, Message("alice", 9100, "during"));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), Code::kUnavailable) << down.status().ToString();
  EXPECT_EQ(store->GetConversation("room").status().code(), Code::kUnavailable);
  EXPECT_EQ(store->Ping().code(), Code::kUnavailable);

  ASSERT_TRUE(server_->Start().ok());
  EXPECT_TRUE(store->Ping().ok());
  // The send that failed is retried (same client_msg_id) and stored once.
  Result<AppendResult> retried = AppendSync(*store, Message("alice", 9100, "during"));
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  EXPECT_FALSE(retried->duplicate_of.has_value());
  EXPECT_EQ(retried->entry.seq, acked.back() + 1);
  auto entries = store->ReadEntries("room", 0, 0, 100, false);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  std::set<uint64_t> stored;
  for (const EntryRecord& e : *entries) stored.insert(e.seq);
  for (uint64_t seq : acked) EXPECT_TRUE(stored.count(seq)) << "acked seq " << seq << " lost";
  EXPECT_EQ(entries->size(), acked.size() + 2);
}

TEST_F(PostgresStoreTest, AWriteFailingInABatchFailsOnlyItsOwnAppend) {
  StorePtr store = OpenStore();
  ASSERT_TRUE(AppendSync(*store, CreateRoom({"alice"})).ok());
  // Park the committer in a callback so that the next three commit together.
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  store->Append(Message("alice", 6000), [&](Result<AppendResult>) {
    entered.set_value();
    released.wait();
  });
  entered.get_future().wait();
  auto first = AppendAsync(*store, Message("alice", 6001));
  auto clash = AppendAsync(*store, Message("alice", 6001));  // same message id: its INSERT fails
  auto third = AppendAsync(*store, Message("alice", 6002));
  release.set_value();
  Result<AppendResult> a = first.get(), b = clash.get(), c = third.get();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kConflict);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->entry.seq, a->entry.seq + 1);  // the failed one took no seq
  EXPECT_EQ(store->GetConversation("room")->last_seq, c->entry.seq);
  EXPECT_EQ(store->GetMessage("room", 6002)->seq, c->entry.seq);
}

TEST_F(PostgresStoreTest, IdempotencyRecordsExpireAfterAWeek) {
  StorePtr first = OpenStore();
  ASSERT_TRUE(AppendSync(*first, CreateRoom({"alice"})).ok());
  AppendRequest old = Message("alice", 8001, "old");
  old.entry.ts = NowMs() - 8LL * 24 * 3600 * 1000;
  ASSERT_TRUE(AppendSync(*first, old).ok());
  ASSERT_TRUE(AppendSync(*first, Message("alice", 8002, "fresh")).ok());
  // A committer expires old records after its first batch (then every 10 minutes).
  StorePtr second = OpenStore();
  ASSERT_TRUE(AppendSync(*second, Message("alice", 8003)).ok());
  second->Close();
  EXPECT_EQ(first->GetIdempotency("alice", "old").status().code(), Code::kNotFound);
  EXPECT_TRUE(first->GetIdempotency("alice", "fresh").ok());
}

TEST_F(PostgresStoreTest, RefusesAnUnreachableDatabaseQuickly) {
  // A closed port: connecting fails at once (not after a long timeout).
  Result<StorePtr> store = OpenPostgresStore("postgres://parley@127.0.0.1:1/none", {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kUnavailable);
  EXPECT_EQ(OpenPostgresStore("mysql://x", {}).status().code(), Code::kBadRequest);
}

}  // namespace
}  // namespace parley::store
