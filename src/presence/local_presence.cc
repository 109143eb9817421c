#include "presence/local_presence.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace parley::presence {

std::string PresenceFrame(const PresenceState& s) {
  return boost::json::serialize(boost::json::object{{"op", "presence"},
                                                    {"user_id", s.user_id},
                                                    {"status", s.online ? "online" : "offline"},
                                                    {"last_seen", s.last_seen}});
}

LocalPresence::LocalPresence(const Clock& clock, Scheduler& scheduler,
                             std::function<void(std::function<void()>)> run_blocking,
                             PresenceHooks hooks, int64_t grace_ms, MetricsRegistry& metrics)
    : clock_(clock),
      scheduler_(scheduler),
      run_blocking_(std::move(run_blocking)),
      hooks_(std::move(hooks)),
      grace_ms_(grace_ms),
      changes_pushed_(metrics.AddCounter("parley_presence_pushed_total",
                                         "presence frames pushed to subscribers")) {}

void LocalPresence::UserConnected(const std::string& user_id) {
  bool came_online;
  {
    std::lock_guard lock(mu_);
    UserState& u = users_[user_id];
    ++u.generation;  // cancels a pending grace timer
    came_online = !u.online;
    u.online = true;
  }
  if (came_online) Publish({user_id, true, 0});
}

void LocalPresence::UserDisconnected(const std::string& user_id) {
  uint64_t generation;
  {
    std::lock_guard lock(mu_);
    generation = users_[user_id].generation;
  }
  scheduler_.After(grace_ms_, [this, user_id, generation] {
    run_blocking_([this, user_id, generation] { GoOffline(user_id, generation); });
  });
}

void LocalPresence::GoOffline(const std::string& user_id, uint64_t generation) {
  int64_t now = clock_.NowMs();
  {
    std::lock_guard lock(mu_);
    auto it = users_.find(user_id);
    if (it == users_.end() || it->second.generation != generation || !it->second.online) return;
    it->second.online = false;
    it->second.last_seen = now;
  }
  if (hooks_.store_last_seen) hooks_.store_last_seen(user_id, now);  // the one durable write
  PresenceState state{user_id, false, now};
  if (hooks_.load_last_seen && hooks_.load_last_seen(user_id) == 0) state.last_seen = 0;  // hidden
  Publish(state);
}

PresenceState LocalPresence::Get(const std::string& user_id) {
  {
    std::lock_guard lock(mu_);
    auto it = users_.find(user_id);
    if (it != users_.end() && it->second.online) return {user_id, true, 0};
  }
  int64_t last_seen = hooks_.load_last_seen ? hooks_.load_last_seen(user_id) : 0;
  return {user_id, false, last_seen};
}

void LocalPresence::Subscribe(const gateway::PeerPtr& subscriber,
                              const std::vector<std::string>& users) {
  index_.Add(subscriber, users);
}

void LocalPresence::Unsubscribe(const gateway::Peer& subscriber,
                                const std::vector<std::string>& users) {
  index_.Remove(subscriber, users);
}

void LocalPresence::DropSubscriber(const gateway::Peer& subscriber) { index_.RemoveAll(subscriber); }

size_t LocalPresence::SubscriptionCount(const gateway::Peer& subscriber) {
  return index_.Count(subscriber);
}

void LocalPresence::Publish(const PresenceState& state) {
  index_.Deliver(state.user_id, std::make_shared<const std::string>(PresenceFrame(state)), hooks_,
                 changes_pushed_);
}

}  // namespace parley::presence
