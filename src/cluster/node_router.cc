#include "cluster/node_router.h"

#include "cluster/node_frame.h"

#include <spdlog/spdlog.h>

#include <unordered_set>

namespace parley::cluster {

NodeRouter::NodeRouter(std::string self, Lookup lookup, NodeLinks& links, MetricsRegistry& metrics,
                       size_t max_queued)
    : self_(std::move(self)),
      lookup_(std::move(lookup)),
      links_(links),
      max_queued_(max_queued),
      dropped_(metrics.AddCounter("parley_cluster_route_dropped_total",
                                  "Frames for other nodes dropped: more queued than the bound while Redis was unreadable")) {
  thread_ = std::thread([this] { Run(); });
}

NodeRouter::~NodeRouter() { Stop(); }

void NodeRouter::Forward(directory::RemoteFrame frame) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= max_queued_) {
      dropped_.Inc();
      return;
    }
    queue_.push_back(std::move(frame));
  }
  cv_.notify_one();
}

void NodeRouter::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void NodeRouter::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything routed
    std::vector<directory::RemoteFrame> batch(std::make_move_iterator(queue_.begin()),
                                              std::make_move_iterator(queue_.end()));
    queue_.clear();
    lock.unlock();
    bool routed = Route(batch);
    lock.lock();
    if (routed || stopping_) continue;
    // Redis unreachable: the batch goes back in front (order kept) and is
    // tried again shortly, so members connected elsewhere still get it live
    // once Redis is back. Beyond the bound the oldest frames are dropped.
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(std::move(*it));
    while (queue_.size() > max_queued_) {
      queue_.pop_front();
      dropped_.Inc();
    }
    cv_.wait_for(lock, std::chrono::milliseconds(kRetryMs), [this] { return stopping_; });
  }
}

// One route read for every user of the batch; then, frame by frame (keeping
// their order), one item per node holding some of its users.
bool NodeRouter::Route(const std::vector<directory::RemoteFrame>& frames) {
  std::vector<std::string> users;
  std::unordered_set<std::string> seen;
  for (const auto& f : frames) {
    for (const std::string& u : f.users) {
      if (seen.insert(u).second) users.push_back(u);
    }
  }
  auto routes = lookup_(users);
  if (!routes.ok()) {
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now().time_since_epoch()).count();
    if (now - last_warning_ms_ >= 1000) {  // a line a second while Redis is down
      last_warning_ms_ = now;
      spdlog::warn("event=route_lookup_failed frames={} error=\"{}\" (retrying)", frames.size(),
                   routes.status().message());
    }
    return false;
  }
  for (const auto& f : frames) {
    std::unordered_map<std::string, std::vector<std::string>> by_node;
    for (const std::string& u : f.users) {
      auto it = routes->find(u);
      if (it == routes->end()) continue;
      for (const std::string& node : it->second) {
        if (node != self_) by_node[node].push_back(u);
      }
    }
    for (auto& [node, node_users] : by_node) links_.Send(node, EncodeDeliverItem(f, node_users));
  }
  return true;
}

}  // namespace parley::cluster
