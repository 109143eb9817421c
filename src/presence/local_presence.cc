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
  std::lock_guard lock(mu_);
  auto& watched = watching_[subscriber.get()];
  for (const std::string& u : users) {
    watched.insert(u);
    subscribers_[u][subscriber.get()] = subscriber;
  }
}

void LocalPresence::Unsubscribe(const gateway::Peer& subscriber,
                                const std::vector<std::string>& users) {
  std::lock_guard lock(mu_);
  auto w = watching_.find(&subscriber);
  for (const std::string& u : users) {
    if (w != watching_.end()) w->second.erase(u);
    auto s = subscribers_.find(u);
    if (s == subscribers_.end()) continue;
    s->second.erase(&subscriber);
    if (s->second.empty()) subscribers_.erase(s);
  }
  if (w != watching_.end() && w->second.empty()) watching_.erase(w);
}

void LocalPresence::DropSubscriber(const gateway::Peer& subscriber) {
  std::vector<std::string> users;
  {
    std::lock_guard lock(mu_);
    auto w = watching_.find(&subscriber);
    if (w == watching_.end()) return;
    users.assign(w->second.begin(), w->second.end());
  }
  Unsubscribe(subscriber, users);
}

size_t LocalPresence::SubscriptionCount(const gateway::Peer& subscriber) {
  std::lock_guard lock(mu_);
  auto w = watching_.find(&subscriber);
  return w == watching_.end() ? 0 : w->second.size();
}

void LocalPresence::Publish(const PresenceState& state) {
  std::vector<gateway::PeerPtr> targets;
  {
    std::lock_guard lock(mu_);
    auto s = subscribers_.find(state.user_id);
    if (s == subscribers_.end()) return;
    for (auto& [ptr, weak] : s->second) {
      if (auto p = weak.lock()) targets.push_back(std::move(p));
    }
  }
  auto frame = std::make_shared<const std::string>(PresenceFrame(state));
  for (const auto& peer : targets) {
    if (hooks_.visible_to && !hooks_.visible_to(state.user_id, peer->user_id())) continue;
    peer->Send(frame, 0);
    changes_pushed_.Inc();
  }
}

}  // namespace parley::presence
