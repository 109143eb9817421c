// Presence shared by every node through Redis (original design §8): for each
// user a hash `parley:user:<id>` of node id → expiry (ms), whose key lives
// `ttl_ms` past its last refresh. A node writes its field when a user's first
// local session opens and deletes it after the grace period of the last one
// closing; it refreshes all its users in pipelined batches every ttl/3 (not
// per heartbeat) and after Redis comes back empty. A user is online while some
// field has not expired. Changes go out on the channel
// `parley:presence:<id>`, to which a node subscribes while a local session
// watches that user. A crashed node stops refreshing: its users' keys expire,
// and Redis's expiry event makes one node (the first to take a short lock)
// write last_seen and announce them offline.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <thread>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/redis_shards.h"
#include "cluster/redis_subscriber.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/scheduler.h"
#include "common/worker_pool.h"
#include "presence/presence.h"
#include "presence/subscriber_index.h"

namespace parley::presence {

struct RedisPresenceOptions {
  std::string node_id;
  int64_t grace_ms = 5000;
  int64_t ttl_ms = 30000;  // a crashed node's users go offline within this
  int redis_timeout_ms = 1000;
  size_t refresh_batch = 500;  // users per pipelined round trip
};

class RedisPresence final : public Presence {
 public:
  RedisPresence(const Clock& clock, Scheduler& scheduler, PresenceHooks hooks,
                MetricsRegistry& metrics, std::vector<cluster::RedisAddress> shards,
                RedisPresenceOptions options);
  ~RedisPresence() override;

  // Subscribes to expiry events and starts the refresh cycle.
  void Start();
  // Stops refreshing and removes this node's entries (a clean shutdown is no crash).
  void Stop();

  void UserConnected(const std::string& user_id) override;
  void UserDisconnected(const std::string& user_id) override;
  PresenceState Get(const std::string& user_id) override;
  void Subscribe(const gateway::PeerPtr& subscriber, const std::vector<std::string>& users) override;
  void Unsubscribe(const gateway::Peer& subscriber, const std::vector<std::string>& users) override;
  void DropSubscriber(const gateway::Peer& subscriber) override;
  size_t SubscriptionCount(const gateway::Peer& subscriber) override;
  Status Ping() override;
  bool LiveOnOtherNode(const std::string& user_id) override;

  // Cluster routing: the nodes (by node id) where each of `users` has a live
  // session, read from the same hashes in one pipelined round trip per shard.
  // Users on no node are absent from the result.
  using NodesByUser = std::unordered_map<std::string, std::vector<std::string>>;
  Result<NodesByUser> NodesOf(const std::vector<std::string>& users);
  // On the Redis writer thread, after the registrations queued before it.
  void AfterPendingWrites(std::function<void()> task) override { writer_.Post(std::move(task)); }

 private:
  void Register(const std::string& user_id);
  void MarkGrace(const std::string& user_id);
  void GoOffline(const std::string& user_id, uint64_t generation);
  void OfflineAfterExpiry(const std::string& user_id);
  void AnnounceOffline(const std::string& user_id, int64_t last_seen);
  void Publish(const PresenceState& state);
  void RefreshAll();
  void RefreshLoop();
  void RemoveAll();
  void EnableExpiryEvents(cluster::RedisClient& client);
  void OnMessage(const std::string& channel, const std::string& message);
  bool ConnectedHere(const std::string& user_id);
  void Warn(std::string_view what, const Status& s);

  struct UserState {
    bool connected = false;
    uint64_t generation = 0;  // bumped on every connect: a stale grace timer sees a newer one
    // Register ran (on the writer thread): only then may a refresh write the field,
    // or Register would find it there and not announce the user online.
    bool registered = false;
  };

  const Clock& clock_;
  Scheduler& scheduler_;
  const PresenceHooks hooks_;
  const RedisPresenceOptions options_;
  Counter& changes_pushed_;
  Counter& redis_errors_;
  cluster::RedisShards redis_;
  std::vector<std::unique_ptr<cluster::RedisSubscriber>> subscribers_;  // one per shard
  SubscriberIndex index_;
  std::mutex mu_;
  std::unordered_map<std::string, UserState> users_;  // guarded by mu_
  std::atomic<int64_t> last_warning_ms_{0};
  std::thread refresher_;
  std::mutex refresh_mu_;
  std::condition_variable refresh_cv_;
  bool stopping_ = false;  // guarded by refresh_mu_
  // Redis round trips run here, in order, off the io and chat threads.
  WorkerPool writer_{1, "presence-redis"};
};

}  // namespace parley::presence
