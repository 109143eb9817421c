// The connection layer: one listening socket serving HTTP/1.1 (keep-alive) and
// WebSocket upgrades on /v1/ws, on a pool of io threads. Knows sockets only;
// everything else goes to the Service.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "common/status.h"
#include "gateway/service.h"

namespace parley::gateway {

struct GatewayOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  size_t threads = 2;
  size_t max_frame_bytes = 64 * 1024;
  size_t max_outbound_bytes = 4 * 1024 * 1024;  // queued per session before 1013
  size_t max_http_body_bytes = 1024 * 1024;
  size_t max_header_bytes = 16 * 1024;
  int ws_idle_timeout_s = 60;   // no traffic and no pong for this long closes
  int auth_timeout_s = 5;       // first-frame auth deadline
  int http_timeout_s = 30;      // reading one request (slowloris bound)
  std::string node_name = "parley-1";
};

class Gateway {
 public:
  Gateway(GatewayOptions options, Service& service, MetricsRegistry& metrics);
  ~Gateway();

  // Binds and starts the io threads. Returns the bound "host:port".
  Result<std::string> Start();
  // Stops accepting and closes every WebSocket with 1001 (going away).
  void StopAccepting();
  // Joins the io threads; call after StopAccepting and the domain's drain.
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::gateway
