// Two RedisPresence instances on one real redis-server stand for two nodes.
#include "presence/redis_presence.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "cluster/testing/redis_process.h"
#include "common/eventually.h"
#include "gateway/testing/recording_peer.h"

namespace parley::presence {
namespace {

using cluster::testing::RedisProcess;
using gateway::testing::RecordingPeer;

std::string Online(const std::string& user) {
  return PresenceFrame({user, true, 0});
}

class RedisPresenceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.Start()); }
  void TearDown() override {
    a_.reset();
    b_.reset();
    timers_.Stop();
  }

  std::unique_ptr<RedisPresence> Node(const std::string& id, int64_t ttl_ms = 30000) {
    PresenceHooks hooks;
    hooks.store_last_seen = [this](const std::string& user, int64_t at) {
      std::lock_guard lock(mu_);
      last_seen_writes_.emplace_back(user, at);
    };
    hooks.load_last_seen = [this](const std::string& user) -> int64_t {
      std::lock_guard lock(mu_);
      for (auto& [u, at] : last_seen_writes_) if (u == user) return at;
      return 0;
    };
    hooks.visible_to = [](const std::string& user, const std::string& watcher) {
      return watcher != "blocked-watcher";
    };
    auto node = std::make_unique<RedisPresence>(
        clock_, timers_, hooks, metrics_,
        std::vector<cluster::RedisAddress>{cluster::RedisAddress::Parse(redis_.url()).value()},
        RedisPresenceOptions{.node_id = id, .grace_ms = 100, .ttl_ms = ttl_ms,
                             .redis_timeout_ms = 500});
    node->Start();
    return node;
  }

  // Subscribes and waits until Redis has the subscription (it is asynchronous).
  void Watch(RedisPresence& node, const std::shared_ptr<RecordingPeer>& peer,
             const std::string& user) {
    node.Subscribe(peer, {user});
    cluster::RedisClient probe(cluster::RedisAddress::Parse(redis_.url()).value(), 500);
    ASSERT_TRUE(Eventually([&] {
      auto r = probe.Command({"PUBSUB", "NUMSUB", "parley:presence:" + user});
      return r.ok() && r->elements.size() == 2 && r->elements[1].integer >= 1;
    }));
  }

  size_t LastSeenWrites(const std::string& user) {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (auto& [u, at] : last_seen_writes_) n += u == user;
    return n;
  }

  RedisProcess redis_;
  SystemClock clock_;
  TimerThread timers_;
  MetricsRegistry metrics_;
  std::unique_ptr<RedisPresence> a_, b_;
  std::mutex mu_;
  std::vector<std::pair<std::string, int64_t>> last_seen_writes_;
};

TEST_F(RedisPresenceTest, AUserOnOneNodeIsSeenOnlineAndOfflineFromAnother) {
  a_ = Node("node-a");
  b_ = Node("node-b");
  auto watcher = std::make_shared<RecordingPeer>("bob");
  auto hidden_from = std::make_shared<RecordingPeer>("blocked-watcher");
  Watch(*b_, watcher, "alice");
  Watch(*b_, hidden_from, "alice");

  a_->UserConnected("alice");
  ASSERT_TRUE(Eventually([&] { return watcher->Frames().size() == 1; }));
  EXPECT_EQ(watcher->Frames()[0], Online("alice"));
  EXPECT_TRUE(b_->Get("alice").online);

  a_->UserDisconnected("alice");
  ASSERT_TRUE(Eventually([&] { return watcher->Frames().size() == 2; }));
  EXPECT_NE(watcher->Frames()[1].find("\"offline\""), std::string::npos);
  EXPECT_FALSE(b_->Get("alice").online);
  EXPECT_GT(b_->Get("alice").last_seen, 0);
  EXPECT_EQ(LastSeenWrites("alice"), 1u);
  EXPECT_TRUE(hidden_from->Frames().empty());  // visible_to is asked per watcher
}

TEST_F(RedisPresenceTest, OnlineOnTwoNodesStaysOnlineUntilTheLastLeaves) {
  a_ = Node("node-a");
  b_ = Node("node-b");
  auto watcher = std::make_shared<RecordingPeer>("bob");
  Watch(*a_, watcher, "alice");
  a_->UserConnected("alice");
  ASSERT_TRUE(Eventually([&] { return watcher->Frames().size() == 1; }));
  b_->UserConnected("alice");  // a second device elsewhere: no second "online"
  a_->UserDisconnected("alice");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // well past the grace period
  EXPECT_EQ(watcher->Frames().size(), 1u);
  EXPECT_TRUE(a_->Get("alice").online);
  b_->UserDisconnected("alice");
  ASSERT_TRUE(Eventually([&] { return watcher->Frames().size() == 2; }));
  EXPECT_FALSE(a_->Get("alice").online);
}

TEST_F(RedisPresenceTest, AQuickReconnectWithinTheGracePeriodDoesNotFlap) {
  a_ = Node("node-a");
  auto watcher = std::make_shared<RecordingPeer>("bob");
  Watch(*a_, watcher, "alice");
  a_->UserConnected("alice");
  ASSERT_TRUE(Eventually([&] { return watcher->Frames().size() == 1; }));
  a_->UserDisconnected("alice");
  a_->UserConnected("alice");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(watcher->Frames().size(), 1u);
  EXPECT_TRUE(a_->Get("alice").online);
}

TEST_F(RedisPresenceTest, ACrashedNodesUsersGoOfflineWithinTheTtl) {
  b_ = Node("node-b", 600);
  auto watcher = std::make_shared<RecordingPeer>("bob");
  Watch(*b_, watcher, "alice");
  {
    // node-a registers alice, then dies without a word: no HDEL, no more refreshes.
    cluster::RedisClient crashed(cluster::RedisAddress::Parse(redis_.url()).value(), 500);
    int64_t expiry = clock_.NowMs() + 600;
    ASSERT_TRUE(crashed.Pipeline({{"HSET", "parley:user:alice", "node-a", std::to_string(expiry)},
                                  {"PEXPIRE", "parley:user:alice", "600"}})
                    .ok());
  }
  EXPECT_TRUE(b_->Get("alice").online);
  ASSERT_TRUE(Eventually([&] { return watcher->Frames().size() == 1; }, std::chrono::seconds(5)));
  EXPECT_NE(watcher->Frames()[0].find("\"offline\""), std::string::npos);
  EXPECT_FALSE(b_->Get("alice").online);
  EXPECT_EQ(LastSeenWrites("alice"), 1u);
}

TEST_F(RedisPresenceTest, ALiveNodesUsersOutliveTheTtlBecauseItRefreshesThem) {
  a_ = Node("node-a", 600);
  a_->UserConnected("alice");
  ASSERT_TRUE(Eventually([&] { return a_->Get("alice").online; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // 2.5 TTLs
  EXPECT_TRUE(a_->Get("alice").online);
  EXPECT_EQ(LastSeenWrites("alice"), 0u);
}

TEST_F(RedisPresenceTest, AfterARedisRestartTheNodeRegistersItsUsersAgain) {
  a_ = Node("node-a");
  a_->UserConnected("alice");
  a_->UserConnected("carol");
  ASSERT_TRUE(Eventually([&] { return a_->Get("carol").online; }));
  redis_.Kill9();
  EXPECT_EQ(a_->Ping().code(), Code::kUnavailable);
  ASSERT_TRUE(redis_.Start());  // empty: no persistence
  ASSERT_TRUE(Eventually([&] { return a_->Ping().ok(); }));
  EXPECT_TRUE(Eventually([&] { return a_->Get("alice").online && a_->Get("carol").online; }));
  // Expiry events were switched on again too: the fresh Redis started without them.
  cluster::RedisClient probe(cluster::RedisAddress::Parse(redis_.url()).value(), 500);
  auto flags = probe.Command({"CONFIG", "GET", "notify-keyspace-events"});
  ASSERT_TRUE(flags.ok());
  ASSERT_EQ(flags->elements.size(), 2u);
  EXPECT_NE(flags->elements[1].str.find('x'), std::string::npos);
}

TEST_F(RedisPresenceTest, ACleanStopTakesTheNodesUsersOfflineAtOnce) {
  a_ = Node("node-a");
  b_ = Node("node-b");
  auto watcher = std::make_shared<RecordingPeer>("bob");
  Watch(*b_, watcher, "alice");
  a_->UserConnected("alice");
  ASSERT_TRUE(Eventually([&] { return watcher->Frames().size() == 1; }));
  a_->Stop();
  ASSERT_TRUE(Eventually([&] { return watcher->Frames().size() == 2; }));
  EXPECT_FALSE(b_->Get("alice").online);
}

TEST_F(RedisPresenceTest, UnsubscribedWatchersHearNothingMore) {
  a_ = Node("node-a");
  auto watcher = std::make_shared<RecordingPeer>("bob");
  Watch(*a_, watcher, "alice");
  EXPECT_EQ(a_->SubscriptionCount(*watcher), 1u);
  a_->DropSubscriber(*watcher);
  EXPECT_EQ(a_->SubscriptionCount(*watcher), 0u);
  a_->UserConnected("alice");
  ASSERT_TRUE(Eventually([&] { return a_->Get("alice").online; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(watcher->Frames().empty());
}

}  // namespace
}  // namespace parley::presence
