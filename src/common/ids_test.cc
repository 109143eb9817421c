#include "common/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

namespace parley {
namespace {

TEST(UserIdTest, NormalizesCaseAndChecksCharset) {
  EXPECT_EQ(NormalizeUserId("Alice_01").value(), "alice_01");
  EXPECT_EQ(NormalizeUserId("a.b-c").value(), "a.b-c");
  EXPECT_FALSE(NormalizeUserId("ab").ok());
  EXPECT_FALSE(NormalizeUserId(std::string(33, 'a')).ok());
  EXPECT_FALSE(NormalizeUserId("al ice").ok());
  EXPECT_FALSE(NormalizeUserId("al:ice").ok());
  EXPECT_FALSE(NormalizeUserId("älice").ok());
  EXPECT_EQ(NormalizeUserId("bad id").status().code(), Code::kBadRequest);
}

TEST(DirectConversationTest, SameIdWhoeverWritesFirst) {
  EXPECT_EQ(DirectConversationId("bob", "alice"), DirectConversationId("alice", "bob"));
  auto members = DirectMembers(DirectConversationId("bob", "alice"));
  ASSERT_TRUE(members);
  EXPECT_EQ(members->first, "alice");
  EXPECT_EQ(members->second, "bob");
  EXPECT_FALSE(DirectMembers("g:123"));
  EXPECT_FALSE(DirectMembers("d:nocolon"));
}

TEST(SnowflakeTest, StrictlyIncreasingAndCarriesTimeAndNode) {
  FakeClock clock(Snowflake::kEpochMs + 1000);
  Snowflake ids(clock, 7);
  uint64_t prev = 0;
  for (int i = 0; i < 10000; ++i) {  // more than 4096 in one millisecond
    uint64_t id = ids.Next();
    ASSERT_GT(id, prev);
    prev = id;
  }
  EXPECT_EQ(Snowflake::NodeId(prev), 7);
  EXPECT_GE(Snowflake::TimestampMs(prev), Snowflake::kEpochMs + 1000);
}

TEST(SnowflakeTest, ClockGoingBackwardsDoesNotRepeatIds) {
  FakeClock clock(Snowflake::kEpochMs + 5000);
  Snowflake ids(clock, 1);
  uint64_t a = ids.Next();
  clock.Set(Snowflake::kEpochMs + 1000);
  EXPECT_GT(ids.Next(), a);
}

TEST(SnowflakeTest, UniqueAcrossThreads) {
  SystemClock clock;
  Snowflake ids(clock, 3);
  std::vector<std::vector<uint64_t>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& out : per_thread) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) out.push_back(ids.Next());
    });
  }
  for (auto& t : threads) t.join();
  std::set<uint64_t> all;
  for (auto& v : per_thread) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 80000u);
}

}  // namespace
}  // namespace parley
