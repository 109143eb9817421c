// Component tests of the message lifecycle over the real ChatService, the
// real RocksDB store and an in-process directory, with a FakeClock: edit and
// delete windows, the disappearing-messages timer and --retention-days (the
// retention job run in-process, in batches), media references, and channel
// reaction aggregation. Black-box tests over sockets are in
// tests/integration/lifecycle_test.cc.
#include "chat/lifecycle.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <filesystem>
#include <future>
#include <thread>

#include "chat/groups.h"
#include "chat/retention.h"
#include "common/eventually.h"
#include "gateway/testing/recording_peer.h"
#include "store/rocksdb/rocksdb_store.h"

namespace parley::chat {
namespace {

namespace json = boost::json;
constexpr int64_t kHour = 3600 * 1000;

using gateway::testing::RecordingPeer;

// The `event` frames a session received (the post itself may arrive too: acks
// do not wait for fan-out).
std::vector<json::object> Events(const RecordingPeer& peer) {
  std::vector<json::object> events;
  for (const auto& frame : peer.Frames()) {
    json::object f = json::parse(frame).as_object();
    if (f.at("op").as_string() == "event") events.push_back(std::move(f));
  }
  return events;
}

// A scheduler that never fires: the tests flush by hand.
class ManualScheduler final : public Scheduler {
 public:
  void After(int64_t, std::function<void()>) override {}
};

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "parley_lifecycle_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto opened = store::OpenRocksDbStore(dir_, {});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
    for (const char* user : {"alice", "bob", "carol"}) {
      ASSERT_TRUE(store_->CreateUser({user, user, "hash", 0, 0, true}).ok());
    }
    relations_ = std::make_unique<Relations>(*store_);
    chat_ = std::make_unique<ChatService>(*store_, directory_, *relations_, clock_, ids_, metrics_,
                                          ChatOptions{});
    store::MediaRecord media;
    media.media_id = "media-1";
    media.sha256 = "sha-1";
    media.uploader = "bob";
    ASSERT_TRUE(store_->PutMedia(media).ok());
    chat_->SetMediaAccess([](const std::string&, const std::string&) {
      return Result<ChatService::MediaInfo>(ChatService::MediaInfo{});
    });
    chat_->SetMediaReleasedHook([this](const std::string& media_id) {
      std::lock_guard lock(released_mu_);
      released_.push_back(media_id);
    });
    groups_ =
        std::make_unique<GroupService>(*store_, *chat_, *relations_, clock_, ids_, GroupOptions{});
    LifecycleOptions options;
    options.reaction_flush_ms = 0;
    lifecycle_ = std::make_unique<LifecycleService>(*store_, *chat_, directory_, clock_, scheduler_,
                                                    options);
  }

  void TearDown() override {
    lifecycle_->Stop();
    store_->Close();
    chat_->Shutdown();
    lifecycle_.reset();
    groups_.reset();
    chat_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  RetentionJob Retention(int64_t retention_days, size_t batch) {
    return RetentionJob(*store_, *chat_, clock_, metrics_, {retention_days, 60'000, batch});
  }

  Result<protocol::Ack> Send(const std::string& from, protocol::SendFrame frame) {
    std::promise<Result<protocol::Ack>> done;
    frame.client_msg_id = "c" + std::to_string(++cmid_);
    chat_->Send({from, std::move(frame), ""}, [&](Result<protocol::Ack> a) { done.set_value(a); });
    return done.get_future().get();
  }
  protocol::Ack SendTo(const std::string& from, const std::string& conv, std::string content,
                       std::string media_id = "") {
    protocol::SendFrame f;
    f.conversation_id = conv;
    f.content = std::move(content);
    f.media_id = std::move(media_id);
    auto ack = Send(from, std::move(f));
    EXPECT_TRUE(ack.ok()) << ack.status().ToString();
    return ack.ok() ? *ack : protocol::Ack{};
  }
  std::string DirectWith(const std::string& from, const std::string& to) {
    protocol::SendFrame f;
    f.to = to;
    f.content = "hello";
    auto ack = Send(from, std::move(f));
    EXPECT_TRUE(ack.ok()) << ack.status().ToString();
    return ack.ok() ? ack->conversation_id : "";
  }
  std::string Group(store::ConversationKind kind) {
    std::promise<Result<std::string>> done;
    groups_->Create({"alice", "team", {"bob", "carol"}, kind},
                    [&](Result<std::string> id) { done.set_value(id); });
    auto id = done.get_future().get();
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : "";
  }

  template <typename Frame, typename Method>
  Result<protocol::Ack> Change(Method method, const std::string& user, Frame f) {
    std::promise<Result<protocol::Ack>> done;
    f.client_msg_id = "l" + std::to_string(++cmid_);
    ((*lifecycle_).*method)(user, std::move(f), "",
                            [&](Result<protocol::Ack> a) { done.set_value(a); });
    return done.get_future().get();
  }
  Code Edit(const std::string& user, const protocol::Ack& m, std::string content) {
    auto r = Change(&LifecycleService::Edit, user,
                    protocol::EditFrame{m.conversation_id, m.message_id, std::move(content), ""});
    return r.ok() ? Code::kOk : r.status().code();
  }
  Code Delete(const std::string& user, const protocol::Ack& m) {
    auto r = Change(&LifecycleService::Delete, user,
                    protocol::DeleteFrame{m.conversation_id, m.message_id, true, ""});
    return r.ok() ? Code::kOk : r.status().code();
  }
  Result<protocol::Ack> React(const std::string& user, const protocol::Ack& m, std::string emoji) {
    return Change(&LifecycleService::React, user,
                  protocol::ReactFrame{m.conversation_id, m.message_id, std::move(emoji), ""});
  }
  Result<SettingsResult> Disappear(const std::string& user, const std::string& conv,
                                   int64_t seconds) {
    std::promise<Result<SettingsResult>> done;
    lifecycle_->SetDisappearAfter(user, conv, seconds,
                                  [&](Result<SettingsResult> r) { done.set_value(r); });
    return done.get_future().get();
  }
  std::vector<json::object> History(const std::string& user, const std::string& conv) {
    std::promise<Result<std::vector<std::string>>> done;
    chat_->History(user, conv, 0, std::nullopt, 200,
                   [&](Result<std::vector<std::string>> page) { done.set_value(page); });
    auto page = done.get_future().get();
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<json::object> out;
    if (page.ok()) {
      for (const auto& f : *page) out.push_back(json::parse(f).as_object());
    }
    return out;
  }
  // Waits until the shards have run what is queued (fan-outs after a commit).
  void Drain(const std::string& conv) {
    std::promise<void> done;
    chat_->RunOnShard(conv, [&] { done.set_value(); });
    done.get_future().get();
  }

  std::string dir_;
  FakeClock clock_;
  Snowflake ids_{clock_, 1};
  MetricsRegistry metrics_;
  directory::LocalDirectory directory_;
  ManualScheduler scheduler_;
  store::StorePtr store_;
  std::unique_ptr<Relations> relations_;
  std::unique_ptr<ChatService> chat_;
  std::unique_ptr<GroupService> groups_;
  std::unique_ptr<LifecycleService> lifecycle_;
  int cmid_ = 0;
  std::mutex released_mu_;
  std::vector<std::string> released_;
};

TEST_F(LifecycleTest, EditWindowEndsAfterFortyEightHours) {
  std::string d = DirectWith("alice", "bob");
  protocol::Ack m = SendTo("alice", d, "first draft");
  clock_.Advance(48 * kHour - 1);
  EXPECT_EQ(Edit("alice", m, "last chance"), Code::kOk);
  clock_.Advance(1);
  EXPECT_EQ(Edit("alice", m, "too late"), Code::kForbidden);
  auto history = History("bob", d);
  ASSERT_EQ(history.back().at("kind").as_string(), "edited");
  json::object message = history[1];
  EXPECT_EQ(message.at("content").as_string(), "last chance");
  EXPECT_EQ(message.at("edited_at").as_int64(), m.ts + 48 * kHour - 1);
}

TEST_F(LifecycleTest, SenderDeleteWindowButGroupAdminsAnyTime) {
  std::string g = Group(store::ConversationKind::kGroup);
  protocol::Ack by_bob = SendTo("bob", g, "mine");
  protocol::Ack by_carol = SendTo("carol", g, "carol's");
  clock_.Advance(48 * kHour);
  EXPECT_EQ(Delete("bob", by_bob), Code::kForbidden);    // his window has passed
  EXPECT_EQ(Delete("bob", by_carol), Code::kForbidden);  // not his, not an admin
  EXPECT_EQ(Delete("alice", by_bob), Code::kOk);         // the admin, any time
  auto history = History("carol", g);
  EXPECT_TRUE(history[1].at("deleted").as_bool());
  EXPECT_EQ(history[1].at("content").as_string(), "");
}

TEST_F(LifecycleTest, DisappearingTimerPurgesInBatchesAndReleasesMedia) {
  std::string d = DirectWith("alice", "bob");
  SendTo("bob", d, "photo", "media-1");
  for (int i = 0; i < 5; ++i) SendTo("alice", d, "m" + std::to_string(i));
  auto set = Disappear("bob", d, 60);  // any member of a 1:1
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->seq, 8u);
  EXPECT_TRUE(*store_->HasLiveMediaReference("media-1"));

  RetentionJob job = Retention(0, 3);
  clock_.Advance(59'000);  // nothing is old enough yet
  auto early = job.RunOnce();
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->entries, 0u);
  EXPECT_EQ(History("alice", d).size(), 8u);

  clock_.Advance(2'000);
  protocol::Ack fresh = SendTo("alice", d, "still here");
  auto pass = job.RunOnce();
  ASSERT_TRUE(pass.ok()) << pass.status().ToString();
  EXPECT_EQ(pass->entries, 8u);  // 7 messages and the settings event
  EXPECT_EQ(pass->batches, 3u);  // at most 3 entries per purge: 3 + 3 + 2
  EXPECT_EQ(pass->conversations, 1u);
  auto history = History("bob", d);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].at("seq").as_int64(), static_cast<int64_t>(fresh.seq));
  EXPECT_FALSE(*store_->HasLiveMediaReference("media-1"));
  EXPECT_EQ(store_->GetConversation(d)->purged_seq, 8u);
  EXPECT_TRUE(Eventually([&] {  // the media hook runs on a reader thread
    std::lock_guard lock(released_mu_);
    return released_ == std::vector<std::string>{"media-1"};
  }));
  // A sync from the start sees only what is left, and the next pass has nothing to do.
  std::promise<Result<SyncPage>> synced;
  chat_->Sync("alice", "", [&](Result<SyncPage> p) { synced.set_value(p); });
  auto page = synced.get_future().get();
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->frames.size(), 1u);
  EXPECT_EQ(job.RunOnce()->entries, 0u);
}

TEST_F(LifecycleTest, OnlyGroupAdminsSetTheTimerAndItIsAnEvent) {
  std::string g = Group(store::ConversationKind::kGroup);
  auto by_member = Disappear("bob", g, 3600);
  EXPECT_EQ(by_member.status().code(), Code::kForbidden);
  EXPECT_EQ(Disappear("mallory", g, 3600).status().code(), Code::kForbidden);
  EXPECT_EQ(Disappear("alice", "g:404", 3600).status().code(), Code::kForbidden);
  EXPECT_EQ(Disappear("alice", g, -1).status().code(), Code::kBadRequest);
  EXPECT_EQ(Disappear("alice", g, 400LL * 24 * 3600).status().code(), Code::kBadRequest);
  auto set = Disappear("alice", g, 3600);
  ASSERT_TRUE(set.ok());
  auto history = History("carol", g);
  EXPECT_EQ(history.back().at("kind").as_string(), "settings_changed");
  EXPECT_EQ(history.back().at("disappear_after_s").as_int64(), 3600);
  EXPECT_EQ(store_->GetConversation(g)->disappear_after_s, 3600);
  ASSERT_TRUE(Disappear("alice", g, 0).ok());  // off again: nothing expires
  clock_.Advance(2 * kHour);
  EXPECT_EQ(Retention(0, 100).RunOnce()->entries, 0u);
}

TEST_F(LifecycleTest, LaterPassesVisitOnlyConversationsWithATimer) {
  std::string d = DirectWith("alice", "bob");
  std::string g = Group(store::ConversationKind::kGroup);
  RetentionJob job = Retention(0, 100);
  lifecycle_->SetTimerHook([&job](const std::string& id) { job.Watch(id); });
  ASSERT_EQ(job.RunOnce()->entries, 0u);        // the full first pass: no timer anywhere
  ASSERT_TRUE(Disappear("alice", g, 60).ok());  // announced to the job by the hook
  SendTo("bob", d, "kept: no timer here");
  clock_.Advance(61'000);
  auto pass = job.RunOnce();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->conversations, 1u);
  EXPECT_EQ(pass->entries, 2u);  // created, settings_changed
  EXPECT_TRUE(History("bob", g).empty());
  EXPECT_EQ(History("bob", d).size(), 2u);
}

TEST_F(LifecycleTest, RetentionDaysAppliesToEveryConversation) {
  std::string d = DirectWith("alice", "bob");
  std::string g = Group(store::ConversationKind::kGroup);
  SendTo("bob", g, "old");
  clock_.Advance(24 * kHour + 1);
  SendTo("bob", g, "new");
  auto pass = Retention(1, 1000).RunOnce();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->conversations, 2u);
  EXPECT_EQ(pass->entries, 3u);  // d: "hello"; g: created, "old"
  EXPECT_TRUE(History("alice", d).empty());
  auto left = History("carol", g);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].at("content").as_string(), "new");
  EXPECT_EQ(Retention(0, 1000).RunOnce()->entries, 0u);  // forever: nothing goes
}

TEST_F(LifecycleTest, ChannelReactionsReachMembersAsAggregates) {
  std::string c = Group(store::ConversationKind::kChannel);
  protocol::Ack post = SendTo("alice", c, "news");
  Drain(c);
  auto watcher = std::make_shared<RecordingPeer>("carol", "s-carol");
  directory_.Add(watcher);
  uint64_t last_seq = store_->GetConversation(c)->last_seq;
  auto first = React("bob", post, "👍");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->seq, 0u);  // no entry per reaction in a channel
  ASSERT_TRUE(React("carol", post, "👍").ok());
  ASSERT_TRUE(React("alice", post, "🎉").ok());
  Drain(c);
  EXPECT_EQ(store_->GetConversation(c)->last_seq, last_seq);
  EXPECT_TRUE(Events(*watcher).empty());

  lifecycle_->FlushReactions();
  ASSERT_TRUE(Eventually([&] { return !Events(*watcher).empty(); }));
  auto history = History("carol", c);
  json::object aggregate = history.back();
  ASSERT_EQ(aggregate.at("kind").as_string(), "reactions");
  EXPECT_EQ(aggregate.at("message_id").as_string(), std::to_string(post.message_id));
  EXPECT_EQ(aggregate.at("reactions").as_object().at("👍").as_int64(), 2);
  EXPECT_EQ(aggregate.at("reactions").as_object().at("🎉").as_int64(), 1);
  EXPECT_EQ(history[1].at("reactions").as_object().at("👍").as_int64(), 2);
  auto frames = Events(*watcher);
  ASSERT_EQ(frames.size(), 1u);  // one aggregate, not three reactions
  EXPECT_EQ(frames[0].at("kind").as_string(), "reactions");
  lifecycle_->FlushReactions();  // nothing changed since: nothing appended
  Drain(c);
  EXPECT_EQ(store_->GetConversation(c)->last_seq, last_seq + 1);
}

}  // namespace
}  // namespace parley::chat
