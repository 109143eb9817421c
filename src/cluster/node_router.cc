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
                                  "Frames for other nodes dropped: routes unreadable or queue full")) {
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
    Route(std::move(batch));
    lock.lock();
  }
}

// One route read for every user of the batch; then, frame by frame (keeping
// their order), one item per node holding some of its users.
void NodeRouter::Route(std::vector<directory::RemoteFrame> frames) {
  std::vector<std::string> users;
  std::unordered_set<std::string> seen;
  for (const auto& f : frames) {
    for (const std::string& u : f.users) {
      if (seen.insert(u).second) users.push_back(u);
    }
  }
  auto routes = lookup_(users);
  if (!routes.ok()) {  // Redis down: those users get it by sync and push
    dropped_.Inc(frames.size());
    return;
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
}

}  // namespace parley::cluster
