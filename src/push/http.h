// Blocking HTTP POSTs for the providers, with libcurl. Each calling thread
// keeps its own easy handle, so connections (and APNs' HTTP/2 sessions) are
// reused by that thread's next request.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace parley::push {

struct HttpPost {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  bool http2 = false;        // require HTTP/2 over TLS (APNs)
  bool public_only = false;  // refuse to connect to loopback/private addresses (webhooks)
};

struct HttpReply {
  long status = 0;  // 0: no response (see error)
  std::string body;
  std::string error;           // transport error: connect, TLS, timeout, refused address
  int64_t retry_after_ms = 0;  // from a Retry-After header, when present
};

class HttpSender {
 public:
  // `cancel` aborts requests in flight when set (shutdown).
  HttpSender(int64_t timeout_ms, std::string ca_file, const std::atomic<bool>& cancel);
  HttpReply Post(const HttpPost& request) const;

 private:
  const int64_t timeout_ms_;
  const std::string ca_file_;
  const std::atomic<bool>& cancel_;
};

}  // namespace parley::push
