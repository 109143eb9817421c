#include "cluster/redis_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "cluster/redis_shards.h"
#include "cluster/redis_subscriber.h"
#include "cluster/testing/redis_process.h"
#include "common/eventually.h"

namespace parley::cluster {
namespace {

using testing::RedisProcess;

RedisAddress AddressOf(const RedisProcess& redis) {
  return RedisAddress::Parse(redis.url()).value();
}

TEST(RedisAddressTest, ParsesHostPortDbAndPassword) {
  auto a = RedisAddress::Parse("redis://:s3cret@10.0.0.5:7000/3");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->host, "10.0.0.5");
  EXPECT_EQ(a->port, 7000);
  EXPECT_EQ(a->db, 3);
  EXPECT_EQ(a->password, "s3cret");
  EXPECT_EQ(a->ToString(), "redis://10.0.0.5:7000/3");  // never prints the password
  auto defaults = RedisAddress::Parse("redis://cache");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->port, 6379);
  EXPECT_EQ(defaults->db, 0);
}

TEST(RedisAddressTest, RejectsWhatIsNotARedisUrl) {
  for (const char* bad : {"", "cache:6379", "http://cache:6379", "redis://", "redis://h:0",
                          "redis://h:6379/x", "redis://h:6379/16", "redis://h:6379/-1"}) {
    auto a = RedisAddress::Parse(bad);
    EXPECT_FALSE(a.ok()) << bad;
    if (!a.ok()) {
      EXPECT_EQ(a.status().code(), Code::kBadRequest) << bad;
    }
  }
  EXPECT_FALSE(ParseRedisUrls("").ok());
  EXPECT_FALSE(ParseRedisUrls("redis://a,nope").ok());
  auto two = ParseRedisUrls("redis://a:1,redis://b:2");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
}

TEST(RedisClientTest, CommandsPipelinesAndErrorReplies) {
  RedisProcess redis;
  ASSERT_TRUE(redis.Start());
  RedisClient client(AddressOf(redis), 1000);
  auto set = client.Command({"SET", "k", std::string("bin\0ary", 7)});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->str, "OK");
  auto replies = client.Pipeline({{"GET", "k"}, {"INCR", "n"}, {"INCR", "n"}, {"INCR", "k"},
                                  {"HSET", "h", "f", "v"}, {"HGETALL", "h"}, {"GET", "none"}});
  ASSERT_TRUE(replies.ok()) << replies.status().ToString();
  ASSERT_EQ(replies->size(), 7u);
  EXPECT_EQ((*replies)[0].str, std::string("bin\0ary", 7));
  EXPECT_EQ((*replies)[2].integer, 2);
  EXPECT_TRUE((*replies)[3].is_error());  // an error reply is a value; the rest still arrive
  ASSERT_EQ((*replies)[5].elements.size(), 2u);
  EXPECT_EQ((*replies)[5].elements[1].str, "v");
  EXPECT_EQ((*replies)[6].type, RedisReply::Type::kNil);
}

TEST(RedisClientTest, DeadRedisIsUnavailableAtOnceAndTheClientReconnects) {
  RedisProcess redis;
  ASSERT_TRUE(redis.Start());
  RedisClient client(AddressOf(redis), 1000);
  ASSERT_TRUE(client.Command({"SET", "a", "1"}).ok());
  redis.Kill9();
  auto failed = client.Command({"GET", "a"});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kUnavailable);
  auto again = client.Command({"GET", "a"});  // within the backoff: no connect attempt
  EXPECT_EQ(again.status().code(), Code::kUnavailable);
  ASSERT_TRUE(redis.Start());
  EXPECT_TRUE(Eventually([&] { return client.Command({"PING"}).ok(); }));
}

TEST(RedisClientTest, PausedRedisTimesOutInsteadOfHanging) {
  RedisProcess redis;
  ASSERT_TRUE(redis.Start());
  RedisClient client(AddressOf(redis), 300);
  ASSERT_TRUE(client.Command({"PING"}).ok());
  redis.Pause();
  auto paused = client.Command({"PING"});
  redis.Resume();
  ASSERT_FALSE(paused.ok());
  EXPECT_EQ(paused.status().code(), Code::kUnavailable);
  EXPECT_TRUE(Eventually([&] { return client.Command({"PING"}).ok(); }));
}

TEST(RedisSubscriberTest, DeliversMessagesAndResubscribesAfterARestart) {
  RedisProcess redis;
  ASSERT_TRUE(redis.Start());
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> got;
  std::atomic<int> connects{0};
  RedisSubscriber subscriber(
      AddressOf(redis), 1000,
      [&](const std::string& channel, const std::string& message) {
        std::lock_guard lock(mu);
        got.emplace_back(channel, message);
      },
      [&] { ++connects; });
  subscriber.Subscribe("a");
  subscriber.Start();
  subscriber.Subscribe("b");
  subscriber.Subscribe("gone");
  subscriber.Unsubscribe("gone");
  RedisClient publisher(AddressOf(redis), 1000);
  auto received = [&](size_t n) {
    std::lock_guard lock(mu);
    return got.size() >= n;
  };
  // Publish until both subscriptions are active (they are asynchronous).
  ASSERT_TRUE(Eventually([&] {
    auto r = publisher.Command({"PUBSUB", "NUMSUB", "a", "b", "gone"});
    return r.ok() && r->elements.size() == 6 && r->elements[1].integer == 1 &&
           r->elements[3].integer == 1 && r->elements[5].integer == 0;
  }));
  ASSERT_TRUE(publisher.Command({"PUBLISH", "gone", "x"}).ok());
  ASSERT_TRUE(publisher.Command({"PUBLISH", "a", "1"}).ok());
  ASSERT_TRUE(publisher.Command({"PUBLISH", "b", "2"}).ok());
  ASSERT_TRUE(Eventually([&] { return received(2); }));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(got[0], std::make_pair(std::string("a"), std::string("1")));
    EXPECT_EQ(got[1], std::make_pair(std::string("b"), std::string("2")));
  }

  redis.Kill9();
  ASSERT_TRUE(redis.Start());
  ASSERT_TRUE(Eventually([&] { return connects.load() >= 2 && subscriber.connected(); }));
  ASSERT_TRUE(Eventually([&] {
    auto r = publisher.Command({"PUBSUB", "NUMSUB", "a", "b"});
    return r.ok() && r->elements.size() == 4 && r->elements[1].integer == 1 &&
           r->elements[3].integer == 1;
  }));
  ASSERT_TRUE(publisher.Command({"PUBLISH", "b", "3"}).ok());
  ASSERT_TRUE(Eventually([&] { return received(3); }));
  subscriber.Stop();
  std::lock_guard lock(mu);
  EXPECT_EQ(got.size(), 3u);  // nothing from "gone"
}

TEST(RedisShardsTest, EveryNodeAgreesOnAShardWhateverTheListOrder) {
  auto abc = ParseRedisUrls("redis://a:1,redis://b:2,redis://c:3").value();
  auto cba = ParseRedisUrls("redis://c:3,redis://b:2,redis://a:1").value();
  RedisShards one(abc, 100);
  RedisShards other(cba, 100);
  std::map<std::string, int> per_shard;
  for (int i = 0; i < 3000; ++i) {
    std::string id = "user" + std::to_string(i);
    size_t s = one.ShardOf(id);
    EXPECT_EQ(abc[s].ToString(), cba[other.ShardOf(id)].ToString());
    ++per_shard[abc[s].ToString()];
  }
  ASSERT_EQ(per_shard.size(), 3u);
  for (auto& [shard, n] : per_shard) EXPECT_GT(n, 800) << shard;  // roughly even
}

}  // namespace
}  // namespace parley::cluster
