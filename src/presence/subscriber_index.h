// Who on this node watches whom: watched user → subscribers and subscriber →
// watched users, like Redis pub/sub's two indexes. Shared by the in-process
// and the Redis presence; thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/metrics.h"
#include "presence/presence.h"

namespace parley::presence {

class SubscriberIndex {
 public:
  // Return the users whose first subscriber on this node this was / whose last one left.
  std::vector<std::string> Add(const gateway::PeerPtr& subscriber,
                               const std::vector<std::string>& users);
  std::vector<std::string> Remove(const gateway::Peer& subscriber,
                                  const std::vector<std::string>& users);
  std::vector<std::string> RemoveAll(const gateway::Peer& subscriber);
  size_t Count(const gateway::Peer& subscriber) const;

  // Sends `frame` about `user` to each live subscriber allowed to see it.
  void Deliver(const std::string& user, const std::shared_ptr<const std::string>& frame,
               const PresenceHooks& hooks, Counter& pushed) const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string,
                     std::unordered_map<const gateway::Peer*, std::weak_ptr<gateway::Peer>>>
      subscribers_;                                                              // guarded by mu_
  std::unordered_map<const gateway::Peer*, std::unordered_set<std::string>> watching_;  // guarded
};

}  // namespace parley::presence
