#include "common/scheduler.h"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <mutex>
#include <vector>

namespace parley {
namespace {

TEST(TimerThreadTest, RunsInDeadlineOrder) {
  TimerThread timers;
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> done;
  auto record = [&](int n) {
    std::lock_guard lock(mu);
    order.push_back(n);
    if (order.size() == 3) done.set_value();
  };
  timers.After(60, [&] { record(3); });
  timers.After(0, [&] { record(1); });
  timers.After(20, [&] { record(2); });
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(TimerThreadTest, StopDropsPendingTimers) {
  bool ran = false;
  {
    TimerThread timers;
    timers.After(60'000, [&] { ran = true; });
  }
  EXPECT_FALSE(ran);
}

TEST(TimerThreadTest, StopReleasesPendingCallbacksAtOnce) {
  TimerThread timers;
  auto held = std::make_shared<int>(1);
  std::weak_ptr<int> watch = held;
  timers.After(60'000, [held = std::move(held)] {});
  timers.Stop();
  EXPECT_TRUE(watch.expired());  // not only when `timers` is destroyed
}

}  // namespace
}  // namespace parley
