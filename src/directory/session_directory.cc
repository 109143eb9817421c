#include "directory/session_directory.h"

#include <algorithm>
#include <functional>

namespace parley::directory {

size_t SessionDirectory::SendToUsers(const std::vector<std::string>& users,
                                     const std::shared_ptr<const std::string>& frame,
                                     uint64_t version, std::string_view except_session) {
  size_t reached = 0;
  for (const std::string& user : users) {
    for (const gateway::PeerPtr& peer : Sessions(user)) {
      if (peer->session_id() == except_session) continue;
      peer->Send(frame, version);
      ++reached;
    }
  }
  if (clustered()) reached += users.size();
  ForwardToOtherNodes({.users = users, .frame = frame, .version = version});
  return reached;
}

LocalDirectory::Shard& LocalDirectory::ShardFor(std::string_view user_id) const {
  return shards_[std::hash<std::string_view>{}(user_id) % kShards];
}

size_t LocalDirectory::Add(const gateway::PeerPtr& peer) {
  Shard& shard = ShardFor(peer->user_id());
  std::lock_guard lock(shard.mu);
  auto& list = shard.by_user[peer->user_id()];
  list.push_back(peer);
  ++shard.sessions;
  return list.size();
}

size_t LocalDirectory::Remove(const gateway::Peer& peer) {
  Shard& shard = ShardFor(peer.user_id());
  std::lock_guard lock(shard.mu);
  auto it = shard.by_user.find(peer.user_id());
  if (it == shard.by_user.end()) return 0;
  auto& list = it->second;
  size_t before = list.size();
  // Drop this peer and any that died without being removed.
  std::erase_if(list, [&](const std::weak_ptr<gateway::Peer>& w) {
    auto p = w.lock();
    return !p || p.get() == &peer;
  });
  shard.sessions -= before - list.size();
  size_t left = list.size();
  if (left == 0) shard.by_user.erase(it);
  return left;
}

std::vector<gateway::PeerPtr> LocalDirectory::Sessions(std::string_view user_id) const {
  std::vector<gateway::PeerPtr> out;
  Shard& shard = ShardFor(user_id);
  std::lock_guard lock(shard.mu);
  auto it = shard.by_user.find(std::string(user_id));
  if (it == shard.by_user.end()) return out;
  out.reserve(it->second.size());
  for (const auto& w : it->second) {
    if (auto p = w.lock()) out.push_back(std::move(p));
  }
  return out;
}

size_t LocalDirectory::UserCount() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.by_user.size();
  }
  return n;
}

void LocalDirectory::ForEachUser(const std::function<void(const std::string&)>& visit) const {
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    for (const auto& [user, sessions] : s.by_user) visit(user);
  }
}

size_t LocalDirectory::SessionCount() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.sessions;
  }
  return n;
}

}  // namespace parley::directory
