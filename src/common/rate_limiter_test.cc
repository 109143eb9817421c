#include "common/rate_limiter.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(RateLimiterTest, BurstThenRefillPerKey) {
  FakeClock clock;
  RateLimiter limiter(clock, /*rate=*/2, /*burst=*/3);
  EXPECT_EQ(limiter.Acquire("a"), 0);
  EXPECT_EQ(limiter.Acquire("a"), 0);
  EXPECT_EQ(limiter.Acquire("a"), 0);
  int64_t wait = limiter.Acquire("a");
  EXPECT_GT(wait, 0);
  EXPECT_LE(wait, 500);
  EXPECT_EQ(limiter.Acquire("b"), 0);  // keys are independent
  clock.Advance(500);
  EXPECT_EQ(limiter.Acquire("a"), 0);
  EXPECT_GT(limiter.Acquire("a"), 0);
  clock.Advance(10'000);  // refills only up to the burst
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("a"), 0);
  EXPECT_GT(limiter.Acquire("a"), 0);
}

TEST(RateLimiterTest, PerMinuteAdmitsAsAStatus) {
  FakeClock clock;
  RateLimiter limiter = RateLimiter::PerMinute(clock, 6);  // a burst of 3, one every 10 s
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("k", "slow down").ok());
  Status refused = limiter.Admit("k", "slow down");
  EXPECT_EQ(refused.code(), Code::kRateLimited);
  EXPECT_EQ(refused.message(), "slow down");
  EXPECT_NEAR(refused.retry_after_ms(), 10'000, 1);
  clock.Advance(refused.retry_after_ms());
  EXPECT_TRUE(limiter.Admit("k", "slow down").ok());
}

}  // namespace
}  // namespace parley
