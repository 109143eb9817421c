// The typed suite every Store implementation must pass: users, tokens, the
// append path (seq, version, group commit), persistence and shutdown.
// Membership, idempotency and reads are in store_stream_test.cc.
#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "common/metrics.h"
#include "store/store_test_fixture.h"

namespace parley::store {
namespace {

template <typename Factory>
using StoreBasicTest = StoreTest<Factory>;
TYPED_TEST_SUITE(StoreBasicTest, StoreFactories);

UserRecord User(std::string id) { return {id, "Name of " + id, "$argon2id$hash", 1000, 0, true}; }

TYPED_TEST(StoreBasicTest, CreatesAndGetsUsers) {
  Store& s = *this->store_;
  ASSERT_TRUE(s.CreateUser(User("alice")).ok());
  Result<UserRecord> u = s.GetUser("alice");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->display_name, "Name of alice");
  EXPECT_EQ(u->password_hash, "$argon2id$hash");

  EXPECT_EQ(s.CreateUser(User("alice")).code(), Code::kConflict);
  EXPECT_EQ(s.GetUser("nobody").status().code(), Code::kNotFound);

  UserRecord changed = *u;
  changed.last_seen = 5555;
  changed.show_last_seen = false;
  ASSERT_TRUE(s.UpdateUser(changed).ok());
  EXPECT_EQ(s.GetUser("alice")->last_seen, 5555);
  EXPECT_FALSE(s.GetUser("alice")->show_last_seen);
  EXPECT_EQ(s.UpdateUser(User("nobody")).code(), Code::kNotFound);
}

TYPED_TEST(StoreBasicTest, ConcurrentCreateUserHasOneWinner) {
  std::atomic<int> created{0}, conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      Status st = this->store_->CreateUser(User("race"));
      (st.ok() ? created : conflicts)++;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(created, 1);
  EXPECT_EQ(conflicts, 7);
}

TYPED_TEST(StoreBasicTest, PutsGetsAndDeletesTokens) {
  Store& s = *this->store_;
  ASSERT_TRUE(s.PutToken({"hash1", "alice", "laptop", 10, 20}).ok());
  Result<TokenRecord> t = s.GetToken("hash1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->user_id, "alice");
  EXPECT_EQ(t->device, "laptop");
  EXPECT_EQ(t->expires_at, 20);
  ASSERT_TRUE(s.DeleteToken("hash1").ok());
  EXPECT_EQ(s.GetToken("hash1").status().code(), Code::kNotFound);
  EXPECT_TRUE(s.DeleteToken("hash1").ok());  // deleting twice is fine
}

TYPED_TEST(StoreBasicTest, AppendCreatesDirectConversation) {
  Result<AppendResult> r =
      this->AppendSync(this->Create("d:alice:bob", ConversationKind::kDirect, {"alice", "bob"}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->conversation_created);
  EXPECT_EQ(r->entry.seq, 1u);
  EXPECT_GT(r->entry.version, 0u);

  Result<ConversationRecord> c = this->store_->GetConversation("d:alice:bob");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, ConversationKind::kDirect);
  EXPECT_EQ(c->created_by, "alice");
  EXPECT_EQ(c->last_seq, 1u);
  EXPECT_EQ(c->last_version, r->entry.version);
  EXPECT_EQ(c->member_count, 2u);
  for (const char* user : {"alice", "bob"}) {
    Result<MemberRecord> m = this->store_->GetMember("d:alice:bob", user);
    ASSERT_TRUE(m.ok()) << user;
    EXPECT_EQ(m->joined_seq, 1u);
    EXPECT_TRUE(m->current());
  }

  // The conversation exists now: a second create_if_missing just appends.
  AppendRequest again = this->Message("d:alice:bob", "bob", "hi");
  again.create_if_missing = ConversationRecord{};
  Result<AppendResult> second = this->AppendSync(std::move(again));
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->conversation_created);
  EXPECT_EQ(second->entry.seq, 2u);
  EXPECT_EQ(this->store_->GetConversation("d:alice:bob")->member_count, 2u);
}

TYPED_TEST(StoreBasicTest, UnknownConversationIsNotFound) {
  Result<AppendResult> r = this->AppendSync(this->Message("missing", "alice", "hello"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(this->store_->GetConversation("missing").status().code(), Code::kNotFound);
  EXPECT_EQ(this->store_->GetMember("missing", "alice").status().code(), Code::kNotFound);
  EXPECT_EQ(this->store_->GetIdempotency("alice", "x").status().code(), Code::kNotFound);
  Result<std::vector<EntryRecord>> entries = this->store_->ReadEntries("missing", 0, 0, 10, true);
  ASSERT_TRUE(entries.ok());
  EXPECT_TRUE(entries->empty());
}

TYPED_TEST(StoreBasicTest, SeqIsGapFreeAndIncreasing) {
  ASSERT_TRUE(this->AppendSync(this->Create("g", ConversationKind::kGroup, {"alice"})).ok());
  std::vector<uint64_t> seqs = this->AppendMessages("g", 50);
  ASSERT_EQ(seqs.size(), 50u);
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 2);
  EXPECT_EQ(this->LastSeq("g"), 51u);
}

TYPED_TEST(StoreBasicTest, VersionsIncreaseAcrossConversationsInCommitOrder) {
  ASSERT_TRUE(this->AppendSync(this->Create("a", ConversationKind::kGroup, {"alice"})).ok());
  ASSERT_TRUE(this->AppendSync(this->Create("b", ConversationKind::kGroup, {"alice"})).ok());
  std::mutex mu;
  std::vector<uint64_t> versions;  // in callback (= commit) order
  for (int i = 0; i < 200; ++i) {
    AppendRequest request = this->Message(i % 3 == 0 ? "a" : "b", "alice", "m");
    this->store_->Append(std::move(request), [&](Result<AppendResult> r) {
      ASSERT_TRUE(r.ok());
      std::lock_guard lock(mu);
      versions.push_back(r->entry.version);
    });
  }
  uint64_t last = this->AppendSync(this->Message("a", "alice", "last"))->entry.version;
  ASSERT_EQ(versions.size(), 200u);
  EXPECT_TRUE(std::is_sorted(versions.begin(), versions.end()));
  EXPECT_EQ(std::set<uint64_t>(versions.begin(), versions.end()).size(), versions.size());
  EXPECT_GT(last, versions.back());
  // CommittedVersion catches up once the callbacks of the batch have run.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (this->store_->CommittedVersion() < last && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(this->store_->CommittedVersion(), last);
}

TYPED_TEST(StoreBasicTest, ConcurrentAppendersGetUniqueGapFreeSeqs) {
  ASSERT_TRUE(this->AppendSync(this->Create("g", ConversationKind::kGroup, {"alice"})).ok());
  Store::Stats before = this->store_->GetStats();
  constexpr int kThreads = 8, kPerThread = 250;
  std::mutex mu;
  std::vector<uint64_t> seqs;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<Result<AppendResult>>> futures;
      for (int i = 0; i < kPerThread; ++i) {
        futures.push_back(this->AppendAsync(this->Message("g", "u" + std::to_string(t), "m")));
      }
      for (auto& f : futures) {
        Result<AppendResult> r = f.get();
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        std::lock_guard lock(mu);
        seqs.push_back(r->entry.seq);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(seqs.size(), size_t{kThreads * kPerThread});
  std::sort(seqs.begin(), seqs.end());
  for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i + 2);
  EXPECT_EQ(this->LastSeq("g"), uint64_t{kThreads * kPerThread + 1});
  // Group commit: the appends shared writes.
  Store::Stats after = this->store_->GetStats();
  EXPECT_EQ(after.appends - before.appends, uint64_t{kThreads * kPerThread});
  EXPECT_LT(after.batches - before.batches, after.appends - before.appends);
}

TYPED_TEST(StoreBasicTest, ReadsRunConcurrentlyWithCommits) {
  ASSERT_TRUE(this->AppendSync(this->Create("g", ConversationKind::kGroup, {"alice"})).ok());
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::thread reader([&] {
    uint64_t last_seen = 0;
    while (!done) {
      Result<ConversationRecord> c = this->store_->GetConversation("g");
      Result<std::vector<EntryRecord>> page = this->store_->ReadEntries("g", 0, 0, 20, true);
      if (!c.ok() || !page.ok() || c->last_seq < last_seen) ++failures;
      if (c.ok()) last_seen = c->last_seq;
      // A page is always a contiguous ascending run of seqs.
      for (size_t i = 1; page.ok() && i < page->size(); ++i) {
        if ((*page)[i].seq != (*page)[i - 1].seq + 1) ++failures;
      }
    }
  });
  std::vector<std::future<Result<AppendResult>>> futures;
  for (int i = 0; i < 500; ++i) futures.push_back(this->AppendAsync(this->Message("g", "a", "m")));
  for (auto& f : futures) {
    Result<AppendResult> r = f.get();
    ASSERT_TRUE(r.ok());
    // Once its callback has run, an append is visible to reads.
    EXPECT_GE(this->LastSeq("g"), r->entry.seq);
  }
  done = true;
  reader.join();
  EXPECT_EQ(failures, 0);
}

TYPED_TEST(StoreBasicTest, PendingAppendsCommitAsOneBatch) {
  ASSERT_TRUE(this->AppendSync(this->Create("g", ConversationKind::kGroup, {"alice"})).ok());
  std::function<void()> release = this->HoldCommitter();
  std::vector<std::future<Result<AppendResult>>> futures;
  for (int i = 0; i < 100; ++i) futures.push_back(this->AppendAsync(this->Message("g", "a", "m")));
  Store::Stats before = this->store_->GetStats();
  release();
  for (auto& f : futures) ASSERT_TRUE(f.get().ok());
  Store::Stats after = this->store_->GetStats();
  EXPECT_EQ(after.batches - before.batches, 1u);
  EXPECT_EQ(after.appends - before.appends, 100u);
  EXPECT_EQ(this->LastSeq("g"), 101u);
}

TYPED_TEST(StoreBasicTest, PersistsAcrossReopen) {
  Store* s = this->store_.get();
  ASSERT_TRUE(s->CreateUser(User("alice")).ok());
  ASSERT_TRUE(s->PutToken({"h", "alice", "d", 1, 2}).ok());
  ASSERT_TRUE(this->AppendSync(this->Create("g", ConversationKind::kGroup, {"alice", "bob"})).ok());
  this->AppendMessages("g", 5);
  uint64_t version = s->CommittedVersion();
  uint64_t last_version = this->AppendSync(this->Message("g", "a", "x"))->entry.version;

  this->Reopen();
  s = this->store_.get();
  EXPECT_TRUE(s->GetUser("alice").ok());
  EXPECT_EQ(s->GetToken("h")->user_id, "alice");
  EXPECT_EQ(this->LastSeq("g"), 7u);
  EXPECT_EQ(s->GetConversation("g")->member_count, 2u);
  EXPECT_EQ(s->CommittedVersion(), last_version);
  EXPECT_GE(last_version, version);
  Result<std::vector<EntryRecord>> entries = s->ReadEntries("g", 0, 0, 100, false);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 7u);
  EXPECT_EQ(entries->back().content, "x");

  Result<AppendResult> next = this->AppendSync(this->Message("g", "a", "after"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->entry.seq, 8u);
  EXPECT_EQ(next->entry.version, last_version + 1);
  EXPECT_EQ(s->GetMember("g", "bob")->joined_seq, 1u);
}

TYPED_TEST(StoreBasicTest, CloseDrainsPendingAppends) {
  ASSERT_TRUE(this->AppendSync(this->Create("g", ConversationKind::kGroup, {"alice"})).ok());
  std::atomic<int> ok{0};
  for (int i = 0; i < 300; ++i) {
    this->store_->Append(this->Message("g", "a", "m"), [&](Result<AppendResult> r) {
      if (r.ok()) ++ok;
    });
  }
  this->store_->Close();
  EXPECT_EQ(ok, 300);
  EXPECT_EQ(this->LastSeq("g"), 301u);

  Result<AppendResult> late = this->AppendSync(this->Message("g", "a", "late"));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), Code::kUnavailable);
  EXPECT_EQ(this->store_->Ping().code(), Code::kUnavailable);
  this->store_->Close();  // twice is fine

  this->Reopen();
  EXPECT_EQ(this->LastSeq("g"), 301u);
}

TYPED_TEST(StoreBasicTest, PingAndMetrics) {
  EXPECT_TRUE(this->store_->Ping().ok());
  MetricsRegistry metrics;
  this->Reopen({.sync_writes = false, .metrics = &metrics});
  ASSERT_TRUE(this->AppendSync(this->Create("g", ConversationKind::kGroup, {"alice"})).ok());
  this->AppendMessages("g", 3);
  this->store_->Close();  // the counters of the last batch are final
  std::string text = metrics.Render();
  for (const char* name : {"parley_store_commit_seconds", "parley_store_batch_size",
                           "parley_store_batches_total", "parley_store_appends_total 4"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name << "\n" << text;
  }
}

}  // namespace
}  // namespace parley::store
