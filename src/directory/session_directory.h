// Who is connected where: user → live sessions. The local implementation
// serves a single node; a Redis implementation adds routes to other nodes.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/service.h"

namespace parley::directory {

// A frame for users' sessions on other nodes (cluster mode).
struct RemoteFrame {
  std::vector<std::string> users;
  std::shared_ptr<const std::string> frame;
  uint64_t version = 0;  // of the entry or receipt it carries (see Peer::Send); 0: none
  // An entry of a conversation's stream: the receiving node delivers a
  // conversation's entries in seq order. seq 0: not an entry (typing, receipts).
  std::string conversation_id;
  uint64_t seq = 0;
  bool changes_members = false;  // a membership/posting event: cached members are stale
};

// Where frames for other nodes go: the cluster's router (src/cluster).
class RemoteSink {
 public:
  virtual ~RemoteSink() = default;
  // Never blocks: queues the frame; the router finds the users' nodes.
  virtual void Forward(RemoteFrame frame) = 0;
};

class SessionDirectory {
 public:
  virtual ~SessionDirectory() = default;
  // Returns the number of the user's sessions after adding.
  virtual size_t Add(const gateway::PeerPtr& peer) = 0;
  // Returns the number of the user's sessions left after removing.
  virtual size_t Remove(const gateway::Peer& peer) = 0;
  // The user's live local sessions. Copied out, so callers send without a lock held.
  virtual std::vector<gateway::PeerPtr> Sessions(std::string_view user_id) const = 0;
  virtual size_t SessionCount() const = 0;
  // Users with at least one live local session.
  virtual size_t UserCount() const = 0;
  // Calls `visit` for each user with a live local session, under that user's
  // shard lock: `visit` must be quick and must not call back into the directory.
  virtual void ForEachUser(const std::function<void(const std::string&)>& visit) const = 0;

  // Queues `frame` to every session of `users` except `except_session`: the
  // local ones here, those on other nodes through the cluster (not entries:
  // they go through ChatService for their order). Returns the deliveries
  // queued: local sessions, plus one per user handed to the other nodes.
  size_t SendToUsers(const std::vector<std::string>& users,
                     const std::shared_ptr<const std::string>& frame, uint64_t version,
                     std::string_view except_session = {});

  // Cluster mode: the users' sessions on other nodes get the frame too (the
  // caller delivers to the local ones). Without a cluster: nothing to do.
  void ForwardToOtherNodes(RemoteFrame frame) {
    if (remote_ != nullptr && !frame.users.empty()) remote_->Forward(std::move(frame));
  }
  bool clustered() const { return remote_ != nullptr; }
  // Set once, before serving.
  void SetRemote(RemoteSink* remote) { remote_ = remote; }

 private:
  RemoteSink* remote_ = nullptr;
};

// In-process directory, sharded by user so that fan-out from many threads
// does not contend on one lock.
class LocalDirectory final : public SessionDirectory {
 public:
  size_t Add(const gateway::PeerPtr& peer) override;
  size_t Remove(const gateway::Peer& peer) override;
  std::vector<gateway::PeerPtr> Sessions(std::string_view user_id) const override;
  size_t SessionCount() const override;
  size_t UserCount() const override;
  void ForEachUser(const std::function<void(const std::string&)>& visit) const override;

 private:
  static constexpr size_t kShards = 64;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, std::vector<std::weak_ptr<gateway::Peer>>> by_user;
    size_t sessions = 0;
  };
  Shard& ShardFor(std::string_view user_id) const;

  mutable std::array<Shard, kShards> shards_;
};

}  // namespace parley::directory
