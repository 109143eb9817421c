// Presence of a single node, in memory.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/scheduler.h"
#include "presence/presence.h"
#include "presence/subscriber_index.h"

namespace parley::presence {

class LocalPresence final : public Presence {
 public:
  // `run_blocking` runs work that may touch the store off the io threads.
  LocalPresence(const Clock& clock, Scheduler& scheduler,
                std::function<void(std::function<void()>)> run_blocking, PresenceHooks hooks,
                int64_t grace_ms, MetricsRegistry& metrics);

  void UserConnected(const std::string& user_id) override;
  void UserDisconnected(const std::string& user_id) override;
  PresenceState Get(const std::string& user_id) override;
  void Subscribe(const gateway::PeerPtr& subscriber, const std::vector<std::string>& users) override;
  void Unsubscribe(const gateway::Peer& subscriber, const std::vector<std::string>& users) override;
  void DropSubscriber(const gateway::Peer& subscriber) override;
  size_t SubscriptionCount(const gateway::Peer& subscriber) override;

 private:
  struct UserState {
    bool online = false;
    uint64_t generation = 0;  // bumped on every connect: a stale grace timer sees a newer one
    int64_t last_seen = 0;
  };
  void GoOffline(const std::string& user_id, uint64_t generation);
  void Publish(const PresenceState& state);

  const Clock& clock_;
  Scheduler& scheduler_;
  const std::function<void(std::function<void()>)> run_blocking_;
  const PresenceHooks hooks_;
  const int64_t grace_ms_;
  Counter& changes_pushed_;
  std::mutex mu_;
  std::unordered_map<std::string, UserState> users_;  // guarded by mu_
  SubscriberIndex index_;
};

}  // namespace parley::presence
