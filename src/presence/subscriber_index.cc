#include "presence/subscriber_index.h"

namespace parley::presence {

std::vector<std::string> SubscriberIndex::Add(const gateway::PeerPtr& subscriber,
                                              const std::vector<std::string>& users) {
  std::vector<std::string> first;
  std::lock_guard lock(mu_);
  auto& watched = watching_[subscriber.get()];
  for (const std::string& u : users) {
    watched.insert(u);
    auto& subs = subscribers_[u];
    if (subs.empty()) first.push_back(u);
    subs[subscriber.get()] = subscriber;
  }
  return first;
}

std::vector<std::string> SubscriberIndex::Remove(const gateway::Peer& subscriber,
                                                 const std::vector<std::string>& users) {
  std::vector<std::string> last;
  std::lock_guard lock(mu_);
  auto w = watching_.find(&subscriber);
  for (const std::string& u : users) {
    if (w != watching_.end()) w->second.erase(u);
    auto s = subscribers_.find(u);
    if (s == subscribers_.end() || s->second.erase(&subscriber) == 0) continue;
    if (s->second.empty()) {
      subscribers_.erase(s);
      last.push_back(u);
    }
  }
  if (w != watching_.end() && w->second.empty()) watching_.erase(w);
  return last;
}

std::vector<std::string> SubscriberIndex::RemoveAll(const gateway::Peer& subscriber) {
  std::vector<std::string> users;
  {
    std::lock_guard lock(mu_);
    auto w = watching_.find(&subscriber);
    if (w == watching_.end()) return {};
    users.assign(w->second.begin(), w->second.end());
  }
  return Remove(subscriber, users);
}

size_t SubscriberIndex::Count(const gateway::Peer& subscriber) const {
  std::lock_guard lock(mu_);
  auto w = watching_.find(&subscriber);
  return w == watching_.end() ? 0 : w->second.size();
}

void SubscriberIndex::Deliver(const std::string& user,
                              const std::shared_ptr<const std::string>& frame,
                              const PresenceHooks& hooks, Counter& pushed) const {
  std::vector<gateway::PeerPtr> targets;
  {
    std::lock_guard lock(mu_);
    auto s = subscribers_.find(user);
    if (s == subscribers_.end()) return;
    for (auto& [ptr, weak] : s->second) {
      if (auto p = weak.lock()) targets.push_back(std::move(p));
    }
  }
  for (const auto& peer : targets) {
    if (hooks.visible_to && !hooks.visible_to(user, peer->user_id())) continue;
    peer->Send(frame, 0);
    pushed.Inc();
  }
}

}  // namespace parley::presence
