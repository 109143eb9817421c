// Several Redis servers used as one keyspace by client-side sharding: a key's
// shard is chosen by rendezvous hashing of the key's id over the shard
// addresses, so every node agrees without coordination and adding a shard
// moves only the ids that now hash to it. (We shard on the client rather than
// require Redis Cluster because each id's keys are independent — no
// multi-key operation spans two users — and plain Redis servers are what
// Debian ships and operators already run.)
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "cluster/redis_client.h"

namespace parley::cluster {

class RedisShards {
 public:
  RedisShards(std::vector<RedisAddress> addresses, int timeout_ms);

  size_t size() const { return clients_.size(); }
  size_t ShardOf(std::string_view id) const;
  RedisClient& Client(size_t shard) { return *clients_[shard]; }
  RedisClient& For(std::string_view id) { return Client(ShardOf(id)); }
  const std::vector<RedisAddress>& addresses() const { return addresses_; }
  int timeout_ms() const { return timeout_ms_; }
  // Ok when every shard answers PING.
  Status Ping();

 private:
  const std::vector<RedisAddress> addresses_;
  const int timeout_ms_;
  std::vector<std::unique_ptr<RedisClient>> clients_;
};

}  // namespace parley::cluster
