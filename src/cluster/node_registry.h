// Which nodes make up the cluster and where their internal ports are: one
// Redis hash `parley:nodes` of node id → "host:port|expiry_ms". Each node
// writes its own field at start (refusing to start while another live node —
// one answering on the registered address — holds its id, so a crashed node
// restarts at once), refreshes it every second (at most ttl/3) and removes it
// on a clean stop; a crashed node's field expires. Every refresh also re-reads the hash, so lookups are
// local; an unknown node is looked up once more before it counts as gone.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster/redis_shards.h"
#include "common/clock.h"
#include "common/status.h"

namespace parley::cluster {

struct NodeRegistryOptions {
  std::string node_id;           // e.g. "node-3"
  std::string internal_address;  // host:port other nodes connect to
  int64_t ttl_ms = 30'000;       // a crashed node disappears within this
  int redis_timeout_ms = 1000;
};

class NodeRegistry {
 public:
  NodeRegistry(std::vector<RedisAddress> redis, const Clock& clock, NodeRegistryOptions options);
  ~NodeRegistry();

  // Writes this node's entry. Conflict when a live node (another address,
  // answering there as this id) holds it; Unavailable when Redis cannot be reached.
  Status Register();
  // Starts refreshing in the background.
  void Start();
  // Stops refreshing and removes this node's entry.
  void Stop();

  // The internal address of a live node (not this one).
  std::optional<std::string> AddressOf(const std::string& node_id);
  // Live nodes, this one included: node id → address.
  std::unordered_map<std::string, std::string> Nodes();
  const std::string& node_id() const { return options_.node_id; }

 private:
  Status Refresh();
  Result<std::unordered_map<std::string, std::string>> ReadNodes();
  RedisClient& Redis();

  const Clock& clock_;
  const NodeRegistryOptions options_;
  RedisShards redis_;
  std::mutex mu_;
  std::unordered_map<std::string, std::string> nodes_;  // guarded by mu_
  int64_t last_miss_read_ms_ = 0;                       // guarded by mu_
  std::thread refresher_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
};

}  // namespace parley::cluster
