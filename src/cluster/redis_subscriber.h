// A Redis pub/sub subscription on its own connection and thread. Channels can
// be added and removed at any time from any thread; after a reconnect (Redis
// restarted, network cut) every channel is subscribed again and
// `on_connected` runs, so the owner can republish what Redis may have lost.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cluster/redis_client.h"

namespace parley::cluster {

class RedisSubscriber {
 public:
  using MessageHandler = std::function<void(const std::string& channel, const std::string& message)>;

  RedisSubscriber(RedisAddress address, int timeout_ms, MessageHandler on_message,
                  std::function<void()> on_connected);
  ~RedisSubscriber();
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  void Start();
  void Stop();
  void Subscribe(const std::string& channel);
  void Unsubscribe(const std::string& channel);
  // Waits (up to the timeout) until Redis has confirmed the subscription, so
  // that what is published from now on reaches us. False if it has not.
  bool WaitSubscribed(const std::string& channel);
  bool connected() const { return connected_.load(); }

 private:
  void Run();
  bool Connect();
  bool FlushChanges();
  bool ReadMessages();
  void Disconnect();
  void Wake();
  void WaitForWork(int timeout_ms, bool watch_socket);

  const RedisAddress address_;
  const int timeout_ms_;
  const MessageHandler on_message_;
  const std::function<void()> on_connected_;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> connected_{false};
  redisContext* context_ = nullptr;  // subscriber thread only
  std::mutex mu_;
  std::condition_variable confirmed_cv_;
  std::set<std::string> channels_;                        // guarded by mu_
  std::set<std::string> confirmed_;                       // guarded by mu_: Redis said so
  std::vector<std::pair<bool, std::string>> pending_;      // guarded by mu_: (subscribe?, channel)
};

}  // namespace parley::cluster
