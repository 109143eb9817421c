#include "cluster/node_registry.h"

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <cstdlib>

#include "client/transport.h"

namespace parley::cluster {
namespace {

constexpr std::string_view kNodesKey = "parley:nodes";

struct NodeEntry {
  std::string address;
  int64_t expiry_ms = 0;
};

std::optional<NodeEntry> ParseEntry(const std::string& value) {
  size_t bar = value.rfind('|');
  if (bar == std::string::npos || bar == 0) return std::nullopt;
  return NodeEntry{value.substr(0, bar), std::atoll(value.c_str() + bar + 1)};
}

// Whether the node `node_id` answers at `address` (its internal port's
// /healthz names it): a crashed node's entry outlives it by up to the TTL.
bool Answers(const std::string& address, const std::string& node_id) {
  auto url = client::ServerUrl::Parse("http://" + address);
  if (!url.ok()) return false;
  auto reply = client::internal::HttpExchange(*url, "GET", "/healthz", "", "", "",
                                              std::chrono::milliseconds(1000));
  if (!reply.ok() || reply->status != 200) return false;
  boost::system::error_code ec;
  auto body = boost::json::parse(reply->body, ec);
  const auto* node = !ec && body.is_object() ? body.as_object().if_contains("node") : nullptr;
  return node != nullptr && node->is_string() && node->as_string() == node_id;
}

}  // namespace

NodeRegistry::NodeRegistry(std::vector<RedisAddress> redis, const Clock& clock,
                           NodeRegistryOptions options)
    : clock_(clock), options_(std::move(options)), redis_(std::move(redis), options_.redis_timeout_ms) {}

NodeRegistry::~NodeRegistry() { Stop(); }

RedisClient& NodeRegistry::Redis() { return redis_.For(kNodesKey); }

Status NodeRegistry::Register() {
  auto current = Redis().Command({"HGET", std::string(kNodesKey), options_.node_id});
  if (!current.ok()) return current.status();
  if (current->type == RedisReply::Type::kString) {
    auto entry = ParseEntry(current->str);
    if (entry && entry->expiry_ms > clock_.NowMs() && entry->address != options_.internal_address &&
        Answers(entry->address, options_.node_id)) {
      return Conflict("node id " + options_.node_id + " is in use by the live node at " +
                      entry->address + " (give each node its own --node-id)");
    }
  }
  return Refresh();
}

Status NodeRegistry::Refresh() {
  std::string value =
      options_.internal_address + "|" + std::to_string(clock_.NowMs() + options_.ttl_ms);
  auto set = Redis().Command({"HSET", std::string(kNodesKey), options_.node_id, value});
  if (!set.ok()) return set.status();
  if (set->is_error()) return Unavailable("redis: " + set->str);
  auto nodes = ReadNodes();
  if (!nodes.ok()) return nodes.status();
  std::lock_guard lock(mu_);
  nodes_ = std::move(*nodes);
  return Status::Ok();
}

// Live entries; expired ones (crashed nodes) are removed on the way.
Result<std::unordered_map<std::string, std::string>> NodeRegistry::ReadNodes() {
  auto all = Redis().Command({"HGETALL", std::string(kNodesKey)});
  if (!all.ok()) return all.status();
  std::unordered_map<std::string, std::string> live;
  const int64_t now = clock_.NowMs();
  for (size_t i = 0; i + 1 < all->elements.size(); i += 2) {
    const std::string& id = all->elements[i].str;
    auto entry = ParseEntry(all->elements[i + 1].str);
    if (entry && entry->expiry_ms > now) {
      live[id] = entry->address;
    } else {
      (void)Redis().Command({"HDEL", std::string(kNodesKey), id});
    }
  }
  return live;
}

void NodeRegistry::Start() {
  refresher_ = std::thread([this] {
    std::unique_lock lock(mu_);
    // At least every second: after Redis restarts empty, the nodes are back in
    // it (and every node's copy of the addresses current) within a second.
    const auto every = std::chrono::milliseconds(std::min<int64_t>(options_.ttl_ms / 3, 1000));
    while (!cv_.wait_for(lock, every,
                         [this] { return stopping_; })) {
      lock.unlock();
      if (Status s = Refresh(); !s.ok()) {
        spdlog::warn("event=node_refresh_failed node={} error=\"{}\"", options_.node_id,
                     s.message());
      }
      lock.lock();
    }
  });
}

void NodeRegistry::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
  (void)Redis().Command({"HDEL", std::string(kNodesKey), options_.node_id});
}

std::optional<std::string> NodeRegistry::AddressOf(const std::string& node_id) {
  {
    std::lock_guard lock(mu_);
    if (auto it = nodes_.find(node_id); it != nodes_.end()) return it->second;
    // A node that started since the last refresh: read again, at most once a second.
    const int64_t now = clock_.SteadyMs();
    if (now - last_miss_read_ms_ < 1000) return std::nullopt;
    last_miss_read_ms_ = now;
  }
  auto nodes = ReadNodes();
  if (!nodes.ok()) return std::nullopt;
  std::lock_guard lock(mu_);
  nodes_ = std::move(*nodes);
  if (auto it = nodes_.find(node_id); it != nodes_.end()) return it->second;
  return std::nullopt;
}

std::unordered_map<std::string, std::string> NodeRegistry::Nodes() {
  std::lock_guard lock(mu_);
  return nodes_;
}

}  // namespace parley::cluster
