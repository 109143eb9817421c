// Presence: who is online, kept out of the durable store (SPEC 5.6). A user is
// online while it has a live session; when the last one closes it goes
// offline after a grace period (so a quick reconnect does not flap) and only
// then is `last_seen` written. Changes are pushed to subscribers only.
// Authorization (who may see whom) is the caller's business.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/service.h"

namespace parley::presence {

struct PresenceState {
  std::string user_id;
  bool online = false;
  int64_t last_seen = 0;  // ms; 0 when unknown or hidden
};

class Presence {
 public:
  virtual ~Presence() = default;
  // The user's session count went from 0 to 1 / from 1 to 0.
  virtual void UserConnected(const std::string& user_id) = 0;
  virtual void UserDisconnected(const std::string& user_id) = 0;
  virtual PresenceState Get(const std::string& user_id) = 0;
  // `subscriber` gets a `presence` frame for each change of each user made
  // after this returns (read the current state after subscribing, not before).
  virtual void Subscribe(const gateway::PeerPtr& subscriber, const std::vector<std::string>& users) = 0;
  virtual void Unsubscribe(const gateway::Peer& subscriber, const std::vector<std::string>& users) = 0;
  virtual void DropSubscriber(const gateway::Peer& subscriber) = 0;
  virtual size_t SubscriptionCount(const gateway::Peer& subscriber) = 0;
  // Ok when what presence depends on (Redis) is reachable, for /readyz.
  virtual Status Ping() { return Status::Ok(); }
  // Cluster: whether the user has a session open on another node now (its
  // grace period after the last one closed does not count). Push asks this:
  // such a user got the message live.
  virtual bool LiveOnOtherNode(const std::string& user_id) { return false; }
  // Runs `task` once the registrations of users connected before this call
  // are visible to other nodes (at once without a cluster). Must not block.
  virtual void AfterPendingWrites(std::function<void()> task) { task(); }
};

// Hooks into the rest of the server: how to persist last_seen, how to read it
// back, and whether a user hides it.
struct PresenceHooks {
  std::function<void(const std::string& user_id, int64_t last_seen)> store_last_seen;
  std::function<int64_t(const std::string& user_id)> load_last_seen;  // 0: hidden/unknown
  // Whether `watcher` may get `user`'s changes (blocks can change after subscribing).
  std::function<bool(const std::string& user, const std::string& watcher)> visible_to;
};

std::string PresenceFrame(const PresenceState& state);

}  // namespace parley::presence
