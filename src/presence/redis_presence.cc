#include "presence/redis_presence.h"

#include <spdlog/spdlog.h>

namespace parley::presence {
namespace {

constexpr std::string_view kUserKeyPrefix = "parley:user:";
constexpr std::string_view kChannelPrefix = "parley:presence:";
// Appended to a node's expiry while its user is in the grace period after the
// last session there closed: still online, but not reachable live.
constexpr std::string_view kGraceMark = ";grace";

std::string UserKey(std::string_view user) { return std::string(kUserKeyPrefix) + std::string(user); }
std::string Channel(std::string_view user) { return std::string(kChannelPrefix) + std::string(user); }
std::string ExpiredChannel(int db) { return "__keyevent@" + std::to_string(db) + "__:expired"; }

// The nodes of an HGETALL reply of node → expiry whose field has not expired.
std::vector<std::string> LiveNodes(const cluster::RedisReply& fields, int64_t now) {
  std::vector<std::string> nodes;
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (std::atoll(fields.elements[i + 1].str.c_str()) > now) nodes.push_back(fields.elements[i].str);
  }
  return nodes;
}
bool AnyLive(const cluster::RedisReply& fields, int64_t now) { return !LiveNodes(fields, now).empty(); }

}  // namespace

RedisPresence::RedisPresence(const Clock& clock, Scheduler& scheduler, PresenceHooks hooks,
                             MetricsRegistry& metrics, std::vector<cluster::RedisAddress> shards,
                             RedisPresenceOptions options)
    : clock_(clock),
      scheduler_(scheduler),
      hooks_(std::move(hooks)),
      options_(std::move(options)),
      changes_pushed_(metrics.AddCounter("parley_presence_pushed_total",
                                         "presence frames pushed to subscribers")),
      redis_errors_(metrics.AddCounter("parley_presence_redis_errors_total",
                                       "presence operations that could not reach Redis")),
      redis_(std::move(shards), options_.redis_timeout_ms) {
  for (size_t i = 0; i < redis_.size(); ++i) {
    auto subscriber = std::make_unique<cluster::RedisSubscriber>(
        redis_.addresses()[i], options_.redis_timeout_ms,
        [this](const std::string& channel, const std::string& message) {
          OnMessage(channel, message);
        },
        // Redis (re)started: it may have lost our entries and its event settings.
        [this, i] {
          writer_.Post([this, i] {
            EnableExpiryEvents(redis_.Client(i));
            RefreshAll();
          });
        });
    subscriber->Subscribe(ExpiredChannel(redis_.addresses()[i].db));
    subscribers_.push_back(std::move(subscriber));
  }
}

RedisPresence::~RedisPresence() { Stop(); }

void RedisPresence::Start() {
  for (auto& s : subscribers_) s->Start();
  refresher_ = std::thread([this] { RefreshLoop(); });
}

void RedisPresence::Stop() {
  {
    std::lock_guard lock(refresh_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  refresh_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
  for (auto& s : subscribers_) s->Stop();
  writer_.Post([this] { RemoveAll(); });
  writer_.Shutdown();
}

void RedisPresence::RefreshLoop() {
  std::unique_lock lock(refresh_mu_);
  while (!refresh_cv_.wait_for(lock, std::chrono::milliseconds(options_.ttl_ms / 3),
                               [this] { return stopping_; })) {
    writer_.Post([this] { RefreshAll(); });
  }
}

void RedisPresence::UserConnected(const std::string& user_id) {
  {
    std::lock_guard lock(mu_);
    UserState& u = users_[user_id];
    ++u.generation;  // cancels a pending grace timer
    u.connected = true;
  }
  writer_.Post([this, user_id] { Register(user_id); });
}

void RedisPresence::UserDisconnected(const std::string& user_id) {
  uint64_t generation;
  {
    std::lock_guard lock(mu_);
    UserState& u = users_[user_id];
    u.connected = false;
    generation = u.generation;
  }
  writer_.Post([this, user_id] { MarkGrace(user_id); });
  scheduler_.After(options_.grace_ms, [this, user_id, generation] {
    writer_.Post([this, user_id, generation] { GoOffline(user_id, generation); });
  });
}

bool RedisPresence::ConnectedHere(const std::string& user_id) {
  std::lock_guard lock(mu_);
  auto it = users_.find(user_id);
  return it != users_.end() && it->second.connected;
}

void RedisPresence::Register(const std::string& user_id) {
  std::string key = UserKey(user_id);
  int64_t now = clock_.NowMs();
  auto replies = redis_.For(user_id).Pipeline(
      {{"HGETALL", key},
       {"HSET", key, options_.node_id, std::to_string(now + options_.ttl_ms)},
       {"PEXPIRE", key, std::to_string(options_.ttl_ms)}});
  {
    std::lock_guard lock(mu_);
    if (auto it = users_.find(user_id); it != users_.end()) it->second.registered = true;
  }
  if (!replies.ok()) return Warn("register", replies.status());  // the next refresh writes it
  // Online already (another node, or our own field in its grace period): nothing changed.
  if (!AnyLive((*replies)[0], now)) Publish({user_id, true, 0});
}

void RedisPresence::MarkGrace(const std::string& user_id) {
  if (ConnectedHere(user_id)) return;  // back already
  std::string expiry = std::to_string(clock_.NowMs() + options_.ttl_ms) + std::string(kGraceMark);
  auto set = redis_.For(user_id).Command({"HSET", UserKey(user_id), options_.node_id, expiry});
  if (!set.ok()) Warn("grace", set.status());
}

bool RedisPresence::LiveOnOtherNode(const std::string& user_id) {
  auto fields = redis_.For(user_id).Command({"HGETALL", UserKey(user_id)});
  if (!fields.ok()) {
    Warn("read", fields.status());
    return false;  // unknown: push rather than stay silent
  }
  const int64_t now = clock_.NowMs();
  const auto& e = fields->elements;
  for (size_t i = 0; i + 1 < e.size(); i += 2) {
    if (e[i].str != options_.node_id && std::atoll(e[i + 1].str.c_str()) > now &&
        !e[i + 1].str.ends_with(kGraceMark)) {
      return true;
    }
  }
  return false;
}

void RedisPresence::GoOffline(const std::string& user_id, uint64_t generation) {
  {
    std::lock_guard lock(mu_);
    auto it = users_.find(user_id);
    if (it == users_.end() || it->second.generation != generation || it->second.connected) return;
    users_.erase(it);
  }
  std::string key = UserKey(user_id);
  auto replies = redis_.For(user_id).Pipeline({{"HDEL", key, options_.node_id}, {"HGETALL", key}});
  if (!replies.ok()) return Warn("unregister", replies.status());
  if (AnyLive((*replies)[1], clock_.NowMs())) return;  // still online on another node
  AnnounceOffline(user_id, clock_.NowMs());
}

// The user's key expired: the nodes holding it stopped refreshing (crashed or cut off).
void RedisPresence::OfflineAfterExpiry(const std::string& user_id) {
  if (ConnectedHere(user_id)) return Register(user_id);  // ours after all: put it back
  auto lock = redis_.For(user_id).Command({"SET", "parley:offline-lock:" + user_id,
                                           options_.node_id, "NX", "PX",
                                           std::to_string(options_.ttl_ms)});
  if (!lock.ok()) return Warn("expiry", lock.status());
  if (lock->type != cluster::RedisReply::Type::kStatus) return;  // another node announces it
  AnnounceOffline(user_id, clock_.NowMs());
}

void RedisPresence::AnnounceOffline(const std::string& user_id, int64_t last_seen) {
  if (hooks_.store_last_seen) hooks_.store_last_seen(user_id, last_seen);  // the one durable write
  PresenceState state{user_id, false, last_seen};
  if (hooks_.load_last_seen && hooks_.load_last_seen(user_id) == 0) state.last_seen = 0;  // hidden
  Publish(state);
}

void RedisPresence::Publish(const PresenceState& state) {
  auto sent = redis_.For(state.user_id).Command({"PUBLISH", Channel(state.user_id),
                                                 PresenceFrame(state)});
  if (!sent.ok()) Warn("publish", sent.status());
}

void RedisPresence::RefreshAll() {
  std::vector<std::vector<std::string>> by_shard(redis_.size());
  {
    std::lock_guard lock(mu_);
    for (const auto& [user, state] : users_) {
      if (state.connected && state.registered) by_shard[redis_.ShardOf(user)].push_back(user);
    }
  }
  std::string expiry = std::to_string(clock_.NowMs() + options_.ttl_ms);
  std::string ttl = std::to_string(options_.ttl_ms);
  for (size_t shard = 0; shard < by_shard.size(); ++shard) {
    const auto& users = by_shard[shard];
    for (size_t start = 0; start < users.size(); start += options_.refresh_batch) {
      std::vector<cluster::RedisCommand> batch;
      for (size_t i = start; i < std::min(users.size(), start + options_.refresh_batch); ++i) {
        std::string key = UserKey(users[i]);
        batch.push_back({"HSET", key, options_.node_id, expiry});
        batch.push_back({"PEXPIRE", key, ttl});
      }
      auto replies = redis_.Client(shard).Pipeline(batch);
      if (!replies.ok()) {
        Warn("refresh", replies.status());
        break;  // the next cycle (or the reconnect) tries again
      }
    }
  }
}

// A clean shutdown: our users are gone from here now, not after the TTL.
void RedisPresence::RemoveAll() {
  std::vector<std::string> users;
  {
    std::lock_guard lock(mu_);
    for (auto& [user, state] : users_) users.push_back(user);
    users_.clear();
  }
  int64_t now = clock_.NowMs();
  for (const std::string& user : users) {
    std::string key = UserKey(user);
    auto replies = redis_.For(user).Pipeline({{"HDEL", key, options_.node_id}, {"HGETALL", key}});
    if (!replies.ok()) return Warn("shutdown", replies.status());
    if (!AnyLive((*replies)[1], now)) AnnounceOffline(user, now);
  }
}

void RedisPresence::EnableExpiryEvents(cluster::RedisClient& client) {
  auto current = client.Command({"CONFIG", "GET", "notify-keyspace-events"});
  if (!current.ok() || current->elements.size() != 2) {
    return Warn("config", current.ok() ? Unavailable("CONFIG GET refused") : current.status());
  }
  std::string flags = current->elements[1].str;
  bool has_expired = flags.find('x') != std::string::npos || flags.find('A') != std::string::npos;
  if (flags.find('E') != std::string::npos && has_expired) return;
  auto set = client.Command({"CONFIG", "SET", "notify-keyspace-events", flags + "Ex"});
  if (!set.ok() || set->is_error()) {
    // Without expiry events a crashed node's users still read as offline (Get), but
    // watchers are not told: say so loudly.
    spdlog::error("event=redis_expiry_events_unavailable redis={} error=\"{}\"",
                  client.address().ToString(), set.ok() ? set->str : set.status().message());
  }
}

void RedisPresence::OnMessage(const std::string& channel, const std::string& message) {
  if (channel.starts_with(kChannelPrefix)) {
    std::string user = channel.substr(kChannelPrefix.size());
    return index_.Deliver(user, std::make_shared<const std::string>(message), hooks_,
                          changes_pushed_);
  }
  if (message.starts_with(kUserKeyPrefix)) {  // an expiry event
    std::string user = message.substr(kUserKeyPrefix.size());
    writer_.Post([this, user] { OfflineAfterExpiry(user); });
  }
}

PresenceState RedisPresence::Get(const std::string& user_id) {
  auto fields = redis_.For(user_id).Command({"HGETALL", UserKey(user_id)});
  if (!fields.ok()) Warn("read", fields.status());
  bool online = fields.ok() ? AnyLive(*fields, clock_.NowMs()) : ConnectedHere(user_id);
  if (online) return {user_id, true, 0};
  int64_t last_seen = hooks_.load_last_seen ? hooks_.load_last_seen(user_id) : 0;
  return {user_id, false, last_seen};
}

Result<RedisPresence::NodesByUser> RedisPresence::NodesOf(const std::vector<std::string>& users) {
  std::vector<std::vector<const std::string*>> by_shard(redis_.size());
  for (const std::string& u : users) by_shard[redis_.ShardOf(u)].push_back(&u);
  NodesByUser nodes;
  const int64_t now = clock_.NowMs();
  for (size_t shard = 0; shard < by_shard.size(); ++shard) {
    if (by_shard[shard].empty()) continue;
    std::vector<cluster::RedisCommand> batch;
    batch.reserve(by_shard[shard].size());
    for (const std::string* u : by_shard[shard]) batch.push_back({"HGETALL", UserKey(*u)});
    auto replies = redis_.Client(shard).Pipeline(batch);
    if (!replies.ok()) {
      Warn("route", replies.status());
      return replies.status();
    }
    for (size_t i = 0; i < replies->size(); ++i) {
      auto live = LiveNodes((*replies)[i], now);
      if (!live.empty()) nodes[*by_shard[shard][i]] = std::move(live);
    }
  }
  return nodes;
}

void RedisPresence::Subscribe(const gateway::PeerPtr& subscriber,
                              const std::vector<std::string>& users) {
  for (const std::string& u : index_.Add(subscriber, users)) {
    subscribers_[redis_.ShardOf(u)]->Subscribe(Channel(u));
  }
  // Changes published from here on must reach the subscriber; the caller reads
  // the current state after this returns.
  for (const std::string& u : users) {
    if (!subscribers_[redis_.ShardOf(u)]->WaitSubscribed(Channel(u))) {
      Warn("subscribe", Unavailable("no subscription confirmed for " + u));
    }
  }
}

void RedisPresence::Unsubscribe(const gateway::Peer& subscriber,
                                const std::vector<std::string>& users) {
  for (const std::string& u : index_.Remove(subscriber, users)) {
    subscribers_[redis_.ShardOf(u)]->Unsubscribe(Channel(u));
  }
}

void RedisPresence::DropSubscriber(const gateway::Peer& subscriber) {
  for (const std::string& u : index_.RemoveAll(subscriber)) {
    subscribers_[redis_.ShardOf(u)]->Unsubscribe(Channel(u));
  }
}

size_t RedisPresence::SubscriptionCount(const gateway::Peer& subscriber) {
  return index_.Count(subscriber);
}

Status RedisPresence::Ping() {
  Status s = redis_.Ping();
  if (!s.ok()) return Unavailable("redis: " + s.message());
  return s;
}

// One line a second at most while Redis is down; the counter has them all.
void RedisPresence::Warn(std::string_view what, const Status& s) {
  redis_errors_.Inc();
  int64_t now = clock_.NowMs();
  int64_t last = last_warning_ms_.load();
  if (now - last < 1000 || !last_warning_ms_.compare_exchange_strong(last, now)) return;
  spdlog::warn("event=presence_redis_failed op={} error=\"{}\"", what, s.message());
}

}  // namespace parley::presence
