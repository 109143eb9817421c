// Deadlines for the domain (long-poll, presence grace, typing expiry): one
// thread with a queue of timers. Callbacks run on that thread and must be
// short; post blocking work elsewhere.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace parley {

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Runs `fn` after `ms` milliseconds (at the earliest).
  virtual void After(int64_t ms, std::function<void()> fn) = 0;
};

class TimerThread final : public Scheduler {
 public:
  TimerThread();
  ~TimerThread() override;  // drops timers not yet due
  void After(int64_t ms, std::function<void()> fn) override;
  void Stop();  // joins the thread and releases the timers not yet due, unrun

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Timer {
    TimePoint due;
    uint64_t order;  // FIFO among equal deadlines
    std::function<void()> fn;
    bool operator>(const Timer& o) const { return due != o.due ? due > o.due : order > o.order; }
  };
  void Run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;  // guarded by mu_
  uint64_t next_order_ = 0;                                                // guarded by mu_
  bool stopping_ = false;                                                  // guarded by mu_
  std::thread thread_;
};

}  // namespace parley
