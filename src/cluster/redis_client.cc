#include "cluster/redis_client.h"

#include <hiredis/hiredis.h>

#include <boost/url/parse.hpp>
#include <charconv>

#include "common/clock.h"

namespace parley::cluster {
namespace {

constexpr int64_t kReconnectBackoffMs = 200;

timeval ToTimeval(int ms) { return timeval{ms / 1000, (ms % 1000) * 1000}; }

std::string ContextError(const redisContext* c) {
  return c == nullptr ? "out of memory" : std::string(c->errstr);
}

// hiredis wants a command as parallel arrays of pointers and lengths.
struct Argv {
  explicit Argv(const RedisCommand& args) {
    for (const auto& a : args) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
};

Result<RedisReply> ExpectReply(const RedisReply& reply, std::string_view what) {
  if (reply.is_error()) return Unavailable(std::string(what) + ": " + reply.str);
  return reply;
}

}  // namespace

Result<RedisAddress> RedisAddress::Parse(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || parsed->scheme() != "redis" || parsed->host().empty()) {
    return BadRequest("a Redis address looks like redis://[:password@]host[:port][/db], not '" +
                      std::string(url) + "'");
  }
  RedisAddress a;
  a.host = parsed->host();
  if (parsed->has_port()) {
    if (parsed->port_number() == 0) return BadRequest("bad port in Redis address");
    a.port = parsed->port_number();
  }
  if (parsed->has_password()) a.password = parsed->password();
  std::string_view path = parsed->encoded_path();
  if (!path.empty() && path != "/") {
    path.remove_prefix(1);
    auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), a.db);
    if (ec != std::errc() || end != path.data() + path.size() || a.db < 0 || a.db > 15) {
      return BadRequest("the Redis database must be a number 0-15, not '" + std::string(path) + "'");
    }
  }
  return a;
}

std::string RedisAddress::ToString() const {
  return "redis://" + host + ":" + std::to_string(port) + "/" + std::to_string(db);
}

Result<std::vector<RedisAddress>> ParseRedisUrls(std::string_view urls) {
  std::vector<RedisAddress> out;
  while (!urls.empty()) {
    size_t comma = urls.find(',');
    auto address = RedisAddress::Parse(urls.substr(0, comma));
    if (!address.ok()) return address.status();
    out.push_back(std::move(*address));
    urls = comma == std::string_view::npos ? std::string_view() : urls.substr(comma + 1);
  }
  if (out.empty()) return BadRequest("no Redis address given");
  return out;
}

RedisReply ConvertReply(const void* raw) {
  const auto* r = static_cast<const redisReply*>(raw);
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::kString; break;
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::kStatus; break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::kError; break;
    case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::kInteger; break;
    case REDIS_REPLY_ARRAY: out.type = RedisReply::Type::kArray; break;
    default: out.type = RedisReply::Type::kNil; break;
  }
  if (r->str != nullptr) out.str.assign(r->str, r->len);
  out.integer = r->integer;
  for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(ConvertReply(r->element[i]));
  return out;
}

namespace {

// Sends one command on a fresh context and reads its reply (AUTH, SELECT).
Status Handshake(redisContext* c, const RedisCommand& args) {
  Argv argv(args);
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(c, argv.argc(), argv.ptrs.data(), argv.lens.data()));
  if (reply == nullptr) return Unavailable("redis: " + ContextError(c));
  RedisReply converted = ConvertReply(reply);
  freeReplyObject(reply);
  return ExpectReply(converted, "redis " + args[0]).status();
}

}  // namespace

Result<redisContext*> ConnectRedis(const RedisAddress& address, int timeout_ms) {
  redisContext* c = redisConnectWithTimeout(address.host.c_str(), address.port,
                                            ToTimeval(timeout_ms));
  if (c == nullptr || c->err != 0) {
    Status s = Unavailable("redis " + address.ToString() + ": " + ContextError(c));
    if (c != nullptr) redisFree(c);
    return s;
  }
  redisSetTimeout(c, ToTimeval(timeout_ms));
  redisEnableKeepAlive(c);
  Status s;
  if (!address.password.empty()) s = Handshake(c, {"AUTH", address.password});
  if (s.ok() && address.db != 0) s = Handshake(c, {"SELECT", std::to_string(address.db)});
  if (!s.ok()) {
    redisFree(c);
    return s;
  }
  return c;
}

void AppendRedisCommand(redisContext* context, const RedisCommand& args) {
  Argv argv(args);
  redisAppendCommandArgv(context, argv.argc(), argv.ptrs.data(), argv.lens.data());
}

RedisClient::RedisClient(RedisAddress address, int timeout_ms)
    : address_(std::move(address)), timeout_ms_(timeout_ms) {}

RedisClient::~RedisClient() { DropLocked(); }

void RedisClient::DropLocked() {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
}

Status RedisClient::EnsureConnectedLocked() {
  if (context_ != nullptr) return Status::Ok();
  int64_t now = SystemClock().NowMs();
  if (now < retry_not_before_ms_) {
    return Unavailable("redis " + address_.ToString() + " is unreachable (retrying shortly)");
  }
  auto c = ConnectRedis(address_, timeout_ms_);
  if (!c.ok()) {
    retry_not_before_ms_ = now + kReconnectBackoffMs;
    return c.status();
  }
  context_ = *c;
  return Status::Ok();
}

Result<RedisReply> RedisClient::Command(const RedisCommand& args) {
  auto replies = Pipeline({args});
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

Result<std::vector<RedisReply>> RedisClient::Pipeline(const std::vector<RedisCommand>& commands) {
  std::lock_guard lock(mu_);
  PARLEY_RETURN_IF_ERROR(EnsureConnectedLocked());
  for (const RedisCommand& args : commands) AppendRedisCommand(context_, args);
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
      Status s = Unavailable("redis " + address_.ToString() + ": " + ContextError(context_));
      DropLocked();  // a half-read pipeline leaves the connection unusable
      return s;
    }
    replies.push_back(ConvertReply(raw));
    freeReplyObject(raw);
  }
  return replies;
}

}  // namespace parley::cluster
