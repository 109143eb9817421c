// The fixture of the typed store test suites: every Store implementation is
// listed in StoreFactories and must pass the same tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "store/postgres/postgres_store.h"
#include "store/postgres/test_postgres.h"
#include "store/rocksdb/rocksdb_store.h"
#include "store/store.h"

namespace parley::store {

// A factory opens the store kept under `dir` (a fresh directory per test;
// a networked store may use it to name its schema). Opening the same dir
// again must see what the previous store committed.
struct RocksDbFactory {
  static Result<StorePtr> Open(const std::string& dir, StoreOptions options) {
    return OpenRocksDbStore(dir, options);
  }
};

// A database named after the test's directory on the binary's own PostgreSQL
// server (started on first use, stopped when the binary exits).
struct PostgresFactory {
  static Result<StorePtr> Open(const std::string& dir, StoreOptions options) {
    Result<pg::TestPostgres*> server = pg::TestPostgres::Shared();
    if (!server.ok()) return server.status();
    Result<std::string> url =
        (*server)->Database(std::filesystem::path(dir).filename().string());
    if (!url.ok()) return url.status();
    return OpenPostgresStore(*url, options);
  }
};

using StoreFactories = ::testing::Types<RocksDbFactory, PostgresFactory>;

template <typename Factory>
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "parley_store_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Open();
  }

  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Open(StoreOptions options = {}) {
    Result<StorePtr> opened = Factory::Open(dir_, options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }

  void Reopen(StoreOptions options = {}) {
    store_->Close();
    store_.reset();
    Open(options);
  }

  std::future<Result<AppendResult>> AppendAsync(AppendRequest request) {
    auto promise = std::make_shared<std::promise<Result<AppendResult>>>();
    std::future<Result<AppendResult>> future = promise->get_future();
    store_->Append(std::move(request), [promise](Result<AppendResult> result) {
      promise->set_value(std::move(result));
    });
    return future;
  }

  Result<AppendResult> AppendSync(AppendRequest request) {
    return AppendAsync(std::move(request)).get();
  }

  // Parks the store's committer inside a callback until the returned
  // function is called, so that appends submitted meanwhile commit together.
  std::function<void()> HoldCommitter() {
    auto release = std::make_shared<std::promise<void>>();
    auto entered = std::make_shared<std::promise<void>>();
    std::shared_future<void> released = release->get_future().share();
    AppendRequest request = Message("holder", "holder", "hold");
    request.create_if_missing = ConversationRecord{};
    store_->Append(std::move(request), [entered, released](Result<AppendResult>) {
      entered->set_value();
      released.wait();
    });
    entered->get_future().wait();
    return [release] { release->set_value(); };
  }

  static AppendRequest Message(std::string conversation_id, std::string sender, std::string content,
                               std::string client_msg_id = "", int64_t ts = 1'700'000'000'000) {
    AppendRequest request;
    EntryRecord& e = request.entry;
    e.conversation_id = std::move(conversation_id);
    e.sender = std::move(sender);
    e.content = std::move(content);
    e.type = "text";
    e.ts = ts;
    e.message_id = ++next_message_id_;
    if (!client_msg_id.empty()) {
      e.client_msg_id = std::move(client_msg_id);
      request.idempotent = true;
    }
    return request;
  }

  // The "created" event of a conversation with these members (the first one
  // is the creator and, outside direct conversations, an admin).
  static AppendRequest Create(std::string conversation_id, ConversationKind kind,
                              std::vector<std::string> members) {
    AppendRequest request;
    request.entry.conversation_id = conversation_id;
    request.entry.is_event = true;
    request.entry.kind = "created";
    request.entry.actor = members.at(0);
    request.entry.ts = 1'700'000'000'000;
    ConversationRecord conversation;
    conversation.kind = kind;
    conversation.created_by = members.at(0);
    request.create_if_missing = conversation;
    for (size_t i = 0; i < members.size(); ++i) {
      MemberRecord member;
      member.user_id = members[i];
      member.role = (i == 0 && kind != ConversationKind::kDirect) ? Role::kAdmin : Role::kMember;
      request.add_members.push_back(member);
    }
    return request;
  }

  static AppendRequest Event(std::string conversation_id, std::string actor, std::string kind) {
    AppendRequest request;
    request.entry.conversation_id = std::move(conversation_id);
    request.entry.is_event = true;
    request.entry.kind = std::move(kind);
    request.entry.actor = std::move(actor);
    request.entry.ts = 1'700'000'000'000;
    return request;
  }

  // Appends `n` messages to `conversation_id` and returns their seqs.
  std::vector<uint64_t> AppendMessages(const std::string& conversation_id, int n) {
    std::vector<uint64_t> seqs;
    for (int i = 0; i < n; ++i) {
      Result<AppendResult> r = AppendSync(Message(conversation_id, "alice", std::to_string(i)));
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (r.ok()) seqs.push_back(r->entry.seq);
    }
    return seqs;
  }

  uint64_t LastSeq(const std::string& conversation_id) {
    Result<ConversationRecord> c = store_->GetConversation(conversation_id);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? c->last_seq : 0;
  }

  std::string dir_;
  StorePtr store_;
  static inline std::atomic<uint64_t> next_message_id_{1000};
};

}  // namespace parley::store
