// Threads for work that may block (store reads) or must run in order per key
// (a conversation's fan-out). Each thread owns a FIFO queue: PostTo(key) pins
// a key to one thread, so work for one key runs in the order it was posted.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace parley {

class WorkerPool {
 public:
  WorkerPool(size_t threads, std::string name);
  ~WorkerPool();  // runs what is queued, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Any thread, round-robin.
  void Post(std::function<void()> task);
  // The thread that owns `key`: tasks posted with one key run in order.
  void PostTo(std::string_view key, std::function<void()> task);
  size_t QueueDepth() const;
  // Runs what is queued and joins. A task posted after its thread has exited is released
  // unrun (here, or at once when posted later), not kept until the pool is destroyed: what it
  // holds (an HTTP session, say) may depend on objects that are gone by then.
  void Shutdown();

 private:
  struct Worker {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> queue;
    bool stopping = false;
    bool joined = false;  // the thread has exited: nothing runs what is posted
    std::thread thread;
  };
  void Enqueue(Worker& w, std::function<void()> task);
  static void Run(Worker& w);

  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<size_t> next_{0};
  std::once_flag shutdown_once_;
};

}  // namespace parley
