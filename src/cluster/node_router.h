// Routes frames for users on other nodes: finds each user's nodes in Redis
// (the presence hashes, in one pipelined read per batch of frames) and hands
// each target node one item with its users. Runs on its own thread, in the
// order frames were forwarded, so a conversation's entries leave this node in
// seq order on every link. While Redis cannot be read, frames wait (up to the
// bound) and are routed once it is back.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster/node_links.h"
#include "common/metrics.h"
#include "common/status.h"
#include "directory/session_directory.h"

namespace parley::cluster {

class NodeRouter final : public directory::RemoteSink {
 public:
  using NodesByUser = std::unordered_map<std::string, std::vector<std::string>>;
  using Lookup = std::function<Result<NodesByUser>(const std::vector<std::string>& users)>;
  NodeRouter(std::string self, Lookup lookup, NodeLinks& links, MetricsRegistry& metrics,
             size_t max_queued = 100'000);
  ~NodeRouter() override;

  void Forward(directory::RemoteFrame frame) override;
  void Stop();

 private:
  void Run();
  // False when the routes could not be read (Redis down): nothing was sent.
  bool Route(const std::vector<directory::RemoteFrame>& frames);
  static constexpr int kRetryMs = 100;

  const std::string self_;
  const Lookup lookup_;
  NodeLinks& links_;
  const size_t max_queued_;
  Counter& dropped_;  // over the bound
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<directory::RemoteFrame> queue_;  // guarded by mu_
  bool stopping_ = false;                     // guarded by mu_
  int64_t last_warning_ms_ = 0;               // router thread only
  std::thread thread_;
};

}  // namespace parley::cluster
