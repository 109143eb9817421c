#include "cluster/redis_shards.h"

#include <cstdint>

namespace parley::cluster {
namespace {

// FNV-1a then a 64-bit finalizer (MurmurHash3's fmix64) so that similar ids
// give unrelated scores; stable across processes and builds, which std::hash
// is not promised to be.
uint64_t StableHash(std::string_view a, std::string_view b) {
  uint64_t h = 14695981039346656037ull;
  for (std::string_view part : {a, std::string_view("\0", 1), b}) {
    for (unsigned char c : part) {
      h ^= c;
      h *= 1099511628211ull;
    }
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace

RedisShards::RedisShards(std::vector<RedisAddress> addresses, int timeout_ms)
    : addresses_(std::move(addresses)), timeout_ms_(timeout_ms) {
  for (const auto& a : addresses_) clients_.push_back(std::make_unique<RedisClient>(a, timeout_ms));
}

size_t RedisShards::ShardOf(std::string_view id) const {
  size_t best = 0;
  uint64_t best_score = 0;
  for (size_t i = 0; i < addresses_.size(); ++i) {
    uint64_t score = StableHash(addresses_[i].ToString(), id);
    if (i == 0 || score > best_score) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

Status RedisShards::Ping() {
  for (auto& client : clients_) {
    auto reply = client->Command({"PING"});
    if (!reply.ok()) return reply.status();
    if (reply->is_error()) return Unavailable("redis: " + reply->str);
  }
  return Status::Ok();
}

}  // namespace parley::cluster
