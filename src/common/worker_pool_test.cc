#include "common/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

namespace parley {
namespace {

TEST(WorkerPoolTest, TasksForOneKeyRunInOrder) {
  std::mutex mu;
  std::vector<int> seen;
  {
    WorkerPool pool(4, "test");
    for (int i = 0; i < 1000; ++i) {
      pool.PostTo("conversation-1", [&, i] {
        std::lock_guard lock(mu);
        seen.push_back(i);
      });
    }
  }  // destructor drains
  ASSERT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen[i], i);
}

TEST(WorkerPoolTest, PostRunsEverything) {
  std::atomic<int> n{0};
  {
    WorkerPool pool(3, "test");
    for (int i = 0; i < 500; ++i) pool.Post([&] { ++n; });
  }
  EXPECT_EQ(n.load(), 500);
}

// A task posted after Shutdown never runs, and what it holds is released right away, not
// when the pool is destroyed (the server's io threads still post while it shuts down).
TEST(WorkerPoolTest, TaskPostedAfterShutdownIsReleasedUnrun) {
  WorkerPool pool(2, "test");
  pool.Shutdown();
  auto held = std::make_shared<int>(7);
  std::weak_ptr<int> watch = held;
  bool ran = false;
  pool.Post([held = std::move(held), &ran] { ran = true; });
  pool.PostTo("key", [&ran] { ran = true; });
  EXPECT_FALSE(ran);
  EXPECT_TRUE(watch.expired());
  EXPECT_EQ(pool.QueueDepth(), 0u);
}

}  // namespace
}  // namespace parley
