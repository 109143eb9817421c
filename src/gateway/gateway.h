// The connection layer: one listening socket serving HTTP/1.1 (keep-alive) and
// WebSocket upgrades on /v1/ws, on a pool of io threads, in TLS when a
// certificate is configured. Knows sockets only; everything else goes to the
// Service. Bounds what a connection may cost before the Service sees it:
// read timeouts, admission control, the Origin allow-list.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/status.h"
#include "gateway/admission.h"
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
  // Slowloris bounds: the TLS handshake, and then each request's headers
  // (an idle keep-alive connection waits this long for its next request).
  int http_header_timeout_s = 10;
  // A buffered request body; each 64 KiB of a streamed body or a response.
  int http_body_timeout_s = 30;
  // Both set: every connection speaks TLS (https and wss), PEM files.
  std::string tls_cert_file;
  std::string tls_key_file;
  AdmissionOptions admission;
  // Origins allowed cross-origin (OriginPolicy); "*": any. Requests without
  // Origin and same-origin ones always pass.
  std::vector<std::string> allowed_origins;
  std::string node_name = "parley-1";
};

class Gateway {
 public:
  Gateway(GatewayOptions options, Service& service, MetricsRegistry& metrics, const Clock& clock);
  ~Gateway();

  // Loads the TLS files, binds and starts the io threads. Returns the bound
  // "host:port"; BadRequest for a TLS or Origin setting that cannot work.
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
