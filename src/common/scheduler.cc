#include "common/scheduler.h"

namespace parley {

TimerThread::TimerThread() : thread_([this] { Run(); }) {}

TimerThread::~TimerThread() { Stop(); }

void TimerThread::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  // Release the callbacks now, not when the TimerThread is destroyed: what they hold (a
  // waiting long-poll's HTTP session) must go while the objects it depends on still exist.
  decltype(timers_) dropped;
  std::lock_guard lock(mu_);
  timers_.swap(dropped);
}

void TimerThread::After(int64_t ms, std::function<void()> fn) {
  auto due = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    timers_.push(Timer{due, next_order_++, std::move(fn)});
  }
  wake_.notify_one();
}

void TimerThread::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (timers_.empty()) {
      wake_.wait(lock);
      continue;
    }
    if (timers_.top().due > std::chrono::steady_clock::now()) {
      wake_.wait_until(lock, timers_.top().due);
      continue;
    }
    auto fn = std::move(const_cast<Timer&>(timers_.top()).fn);
    timers_.pop();
    lock.unlock();
    fn();
    lock.lock();
  }
}

}  // namespace parley
