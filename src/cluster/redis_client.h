// A small synchronous Redis client over hiredis: one connection guarded by a
// mutex, commands and pipelines with a timeout, and a lazy reconnect (with a
// short backoff so a dead Redis costs callers a fast `unavailable`, not a
// connect timeout each). Callers run it off the io threads.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct redisContext;

namespace parley::cluster {

struct RedisAddress {
  std::string host;
  uint16_t port = 6379;
  int db = 0;
  std::string password;

  // "redis://[:password@]host[:port][/db]".
  static Result<RedisAddress> Parse(std::string_view url);
  std::string ToString() const;  // without the password
};

// Parses a comma-separated list of Redis URLs (the shards).
Result<std::vector<RedisAddress>> ParseRedisUrls(std::string_view urls);

struct RedisReply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<RedisReply> elements;  // kArray

  bool is_error() const { return type == Type::kError; }
};

using RedisCommand = std::vector<std::string>;

// Opens a connection (AUTH and SELECT done); kUnavailable when it cannot.
Result<redisContext*> ConnectRedis(const RedisAddress& address, int timeout_ms);
RedisReply ConvertReply(const void* hiredis_reply);
// Queues a command in the context's output buffer (sent by the next read or flush).
void AppendRedisCommand(redisContext* context, const RedisCommand& args);

class RedisClient {
 public:
  RedisClient(RedisAddress address, int timeout_ms);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // An error reply from Redis is a value (is_error()); a broken or missing
  // connection is kUnavailable, and the next call reconnects.
  Result<RedisReply> Command(const RedisCommand& args);
  // Sends all commands in one round trip; the replies come in order.
  Result<std::vector<RedisReply>> Pipeline(const std::vector<RedisCommand>& commands);
  const RedisAddress& address() const { return address_; }

 private:
  Status EnsureConnectedLocked();
  void DropLocked();

  const RedisAddress address_;
  const int timeout_ms_;
  std::mutex mu_;
  redisContext* context_ = nullptr;  // guarded by mu_
  int64_t retry_not_before_ms_ = 0;  // guarded by mu_: reconnect backoff
};

}  // namespace parley::cluster
