// Outbound connections to the other nodes' internal ports: one persistent
// WebSocket per node (the client library's transport, authenticated with the
// cluster secret), reconnected with jittered exponential backoff. Items for a
// node queue while its connection is down or being made (up to a bound) and go
// out together in one frame once it is up — a node back from a restart gets
// what was routed to it meanwhile; a node missing from the registry for
// longer than a TTL gets nothing (its users catch up by sync and push). A sender never waits on another node.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/metrics.h"

namespace parley::cluster {

struct NodeLinksOptions {
  std::string secret;
  int connect_timeout_ms = 2000;
  int backoff_base_ms = 100;
  int backoff_cap_ms = 5000;
  size_t max_queued_bytes = 32 << 20;  // per node; beyond it items are dropped
  size_t max_frame_bytes = 1 << 20;    // items per frame up to about this size
  // A node missing from the registry this long is gone: its queue is dropped.
  // (Shorter gaps happen: Redis restarted empty, the node not re-registered yet.)
  int64_t forget_unknown_after_ms = 30'000;
};

class NodeLinks {
 public:
  // `address_of`: a live node's internal host:port (called on the links' thread).
  using AddressOf = std::function<std::optional<std::string>(const std::string& node_id)>;
  NodeLinks(AddressOf address_of, MetricsRegistry& metrics, NodeLinksOptions options);
  ~NodeLinks();

  // Queues one JSON item (see InternalService) for `node_id`. Thread-safe; never blocks.
  void Send(const std::string& node_id, std::string item);
  // Closes every connection and joins the thread; later items are dropped.
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::cluster
