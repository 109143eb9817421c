#include "common/worker_pool.h"

#include <pthread.h>

namespace parley {

WorkerPool::WorkerPool(size_t threads, std::string name) {
  if (threads == 0) threads = 1;
  for (size_t i = 0; i < threads; ++i) {
    auto w = std::make_unique<Worker>();
    Worker* raw = w.get();
    w->thread = std::thread([raw] { Run(*raw); });
    std::string thread_name = (name + std::to_string(i)).substr(0, 15);
    pthread_setname_np(w->thread.native_handle(), thread_name.c_str());
    workers_.push_back(std::move(w));
  }
}

WorkerPool::~WorkerPool() { Shutdown(); }

void WorkerPool::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    for (auto& w : workers_) {
      std::lock_guard lock(w->mu);
      w->stopping = true;
      w->cv.notify_one();
    }
    for (auto& w : workers_) {
      w->thread.join();
      std::deque<std::function<void()>> orphans;  // posted after the thread drained its queue
      {
        std::lock_guard lock(w->mu);
        w->joined = true;
        orphans.swap(w->queue);
      }
    }  // orphans released outside the lock
  });
}

void WorkerPool::Post(std::function<void()> task) {
  Enqueue(*workers_[next_.fetch_add(1, std::memory_order_relaxed) % workers_.size()],
          std::move(task));
}

void WorkerPool::PostTo(std::string_view key, std::function<void()> task) {
  Enqueue(*workers_[std::hash<std::string_view>{}(key) % workers_.size()], std::move(task));
}

size_t WorkerPool::QueueDepth() const {
  size_t n = 0;
  for (const auto& w : workers_) {
    std::lock_guard lock(w->mu);
    n += w->queue.size();
  }
  return n;
}

void WorkerPool::Enqueue(Worker& w, std::function<void()> task) {
  std::unique_lock lock(w.mu);
  if (w.joined) {
    lock.unlock();
    return;  // shut down: `task` is released unrun, outside the lock
  }
  w.queue.push_back(std::move(task));
  w.cv.notify_one();
}

void WorkerPool::Run(Worker& w) {
  std::unique_lock lock(w.mu);
  for (;;) {
    w.cv.wait(lock, [&] { return w.stopping || !w.queue.empty(); });
    if (w.queue.empty()) return;  // stopping and drained
    auto task = std::move(w.queue.front());
    w.queue.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace parley
