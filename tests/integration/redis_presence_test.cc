// Presence through Redis (issue #9 item 2; docs/operations.md "Redis"): the
// server keeps its users' presence in a real redis-server, refreshes it, puts
// it back after Redis restarts, leaves it to expire when the node is killed,
// removes it at a clean stop, and /readyz says when Redis is unreachable.
// (The whole presence suite also runs against Redis: ctest's
// PresenceTypingTest.*.redis.)
#include <gtest/gtest.h>

#include <thread>

#include "cluster/redis_client.h"
#include "common/eventually.h"
#include "testing/helpers.h"

namespace parley::testing {
namespace {

constexpr int kTtlMs = 1500;

class RedisPresenceIT : public ServerTest {
 protected:
  RedisPresenceIT() { EXPECT_TRUE(own_redis_.Start()); }
  std::vector<std::string> ExtraArgs() override {
    return {"--redis", own_redis_.url(), "--presence-ttl-ms", std::to_string(kTtlMs),
            "--presence-grace-ms", "200"};
  }
  bool UserKeyExists(const std::string& user) {
    auto r = redis().Command({"EXISTS", "parley:user:" + user});
    return r.ok() && r->integer == 1;
  }
  cluster::RedisClient& redis() {
    if (!client_) {
      client_ = std::make_unique<cluster::RedisClient>(
          cluster::RedisAddress::Parse(own_redis_.url()).value(), 500);
    }
    return *client_;
  }
  cluster::testing::RedisProcess own_redis_;
  std::unique_ptr<cluster::RedisClient> client_;
};

TEST_F(RedisPresenceIT, ASessionIsInRedisWhileOpenAndGoneAfterTheGracePeriod) {
  auto alice = NewUser("alice");
  auto ws = ConnectReady(port(), alice.token);
  ASSERT_TRUE(ws);
  ASSERT_TRUE(Eventually([&] { return UserKeyExists(alice.id); }, 5s));
  // Refreshed every third of the TTL: still there after several TTLs.
  std::this_thread::sleep_for(std::chrono::milliseconds(kTtlMs * 2));
  EXPECT_TRUE(UserKeyExists(alice.id));
  ws.reset();
  EXPECT_TRUE(Eventually([&] { return !UserKeyExists(alice.id); }, 5s));
}

TEST_F(RedisPresenceIT, AKilledNodesUsersExpireFromRedisWithinTheTtl) {
  auto alice = NewUser("alice");
  auto ws = ConnectReady(port(), alice.token);
  ASSERT_TRUE(ws);
  ASSERT_TRUE(Eventually([&] { return UserKeyExists(alice.id); }, 5s));
  server_->Kill9();
  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return !UserKeyExists(alice.id); }, 5s));
  EXPECT_LE(std::chrono::steady_clock::now() - killed_at,
            std::chrono::milliseconds(kTtlMs + 1000));
}

TEST_F(RedisPresenceIT, ACleanStopRemovesItsUsersAtOnce) {
  auto alice = NewUser("alice");
  auto ws = ConnectReady(port(), alice.token);
  ASSERT_TRUE(Eventually([&] { return UserKeyExists(alice.id); }, 5s));
  EXPECT_EQ(server_->Stop(), 0);
  EXPECT_FALSE(UserKeyExists(alice.id));
}

TEST_F(RedisPresenceIT, RedisRestartReRegistersSessionsAndReadyzFollowsRedis) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  auto sent = http().Post("/v1/messages",
                          json::object{{"to", bob.id}, {"content", "hi"}, {"type", "text"},
                                       {"client_msg_id", UniqueCmid()}},
                          alice.token);
  ASSERT_EQ(sent.status, 201) << sent.Describe();
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Eventually([&] { return UserKeyExists(bob.id); }, 5s));
  EXPECT_EQ(http().Get("/readyz").status, 200);

  own_redis_.Kill9();
  auto down = http().Get("/readyz");
  EXPECT_EQ(down.status, 503) << down.Describe();
  EXPECT_NE(down.body.find("presence"), std::string::npos) << down.body;
  EXPECT_TRUE(PingPong(*a)) << "sessions keep working while Redis is down";

  ASSERT_TRUE(own_redis_.Start());  // empty: it kept nothing
  client_.reset();
  EXPECT_TRUE(Eventually([&] { return UserKeyExists(alice.id) && UserKeyExists(bob.id); }, 5s));
  EXPECT_TRUE(Eventually([&] { return http().Get("/readyz").status == 200; }, 5s));

  // Presence works again end to end: alice hears bob leave.
  ASSERT_TRUE(a->SendJson(json::object{{"op", "presence.subscribe"}, {"users", json::array{bob.id}},
                                      {"id", "p1"}}));
  auto current = a->ReadUntil([&](auto& f) { return Op(f) == "presence"; }, 5s);
  ASSERT_TRUE(current);
  EXPECT_EQ(Str(*current, "status"), "online");
  b.reset();
  auto offline = a->ReadUntil(
      [&](auto& f) { return Op(f) == "presence" && Str(f, "status") == "offline"; }, 5s);
  ASSERT_TRUE(offline);
  EXPECT_GT(Int(*offline, "last_seen"), 0);
}

}  // namespace
}  // namespace parley::testing
