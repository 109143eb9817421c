#include "client/backoff.h"

#include <gtest/gtest.h>

#include <set>

namespace parley::client {
namespace {

using std::chrono::milliseconds;

BackoffOptions Opts(int base, int cap, int max_attempts = 0) {
  BackoffOptions o;
  o.base = milliseconds(base);
  o.cap = milliseconds(cap);
  o.max_attempts = max_attempts;
  return o;
}

TEST(BackoffTest, CeilingDoublesUpToTheCap) {
  Backoff b(Opts(100, 1000));
  EXPECT_EQ(b.Ceiling(0), milliseconds(100));
  EXPECT_EQ(b.Ceiling(1), milliseconds(200));
  EXPECT_EQ(b.Ceiling(3), milliseconds(800));
  EXPECT_EQ(b.Ceiling(4), milliseconds(1000));
  EXPECT_EQ(b.Ceiling(60), milliseconds(1000));  // no overflow
}

TEST(BackoffTest, EveryDelayIsWithinItsWindow) {
  Backoff b(Opts(100, 5000), 42);
  for (int attempt = 0; attempt < 20; ++attempt) {
    milliseconds ceiling = b.Ceiling(attempt);
    auto d = b.Next();
    ASSERT_TRUE(d.has_value());
    EXPECT_GE(d->count(), 0);
    EXPECT_LE(*d, ceiling);
    EXPECT_LE(*d, milliseconds(5000));
  }
}

TEST(BackoffTest, FullJitterSpreadsOverTheWholeWindow) {
  // Many clients at the same attempt: delays cover [0, ceiling] roughly evenly.
  const int kDraws = 20000;
  int buckets[10] = {};
  for (int i = 0; i < kDraws; ++i) {
    Backoff b(Opts(1000, 1000), /*seed=*/i * 7919 + 1);
    int64_t d = b.Next()->count();
    ASSERT_LE(d, 1000);
    ++buckets[std::min<int64_t>(d / 100, 9)];
  }
  for (int count : buckets) {
    EXPECT_GT(count, kDraws / 10 * 0.8);
    EXPECT_LT(count, kDraws / 10 * 1.2);
  }
}

TEST(BackoffTest, DrawsAreNotAllTheSame) {
  Backoff b(Opts(1000, 1000), 7);
  std::set<int64_t> seen;
  for (int i = 0; i < 100; ++i) seen.insert(b.Next()->count());
  EXPECT_GT(seen.size(), 50u);
}

TEST(BackoffTest, RetryAfterIsAFloor) {
  Backoff b(Opts(100, 400), 3);
  for (int i = 0; i < 200; ++i) {
    auto d = b.Next(milliseconds(5000));
    ASSERT_TRUE(d.has_value());
    EXPECT_GE(*d, milliseconds(5000));
    EXPECT_LE(*d, milliseconds(5400));
  }
}

TEST(BackoffTest, GivesUpAfterMaxAttemptsAndResets) {
  Backoff b(Opts(10, 100, 3));
  EXPECT_TRUE(b.Next());
  EXPECT_TRUE(b.Next());
  EXPECT_TRUE(b.Next());
  EXPECT_FALSE(b.Next());
  EXPECT_EQ(b.attempts(), 3);
  b.Reset();
  EXPECT_TRUE(b.Next());
  EXPECT_LE(*Backoff(Opts(10, 100, 3)).Next(), milliseconds(10));
}

TEST(BackoffTest, ResetStartsFromBaseAgain) {
  Backoff b(Opts(10, 100000), 5);
  for (int i = 0; i < 10; ++i) (void)b.Next();
  b.Reset();
  EXPECT_LE(*b.Next(), milliseconds(10));
}

}  // namespace
}  // namespace parley::client
