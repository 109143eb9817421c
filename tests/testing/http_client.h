// HttpClient: blocking-looking HTTP/1.1 calls with a hard timeout, for
// black-box tests. Each call opens a fresh connection. Beast/Asio stay out of
// this header so tests compile quickly.
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "testing/tls_options.h"

namespace parley::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;           // 0: no response (transport error or timeout)
  std::string error;        // transport error, if any
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string tls;  // over TLS: the negotiated version and cipher ("TLSv1.3 TLS_AES_...")

  // The body parsed as JSON; null if it is not JSON.
  boost::json::value json() const;
  // json() as an object; empty if it is not one.
  boost::json::object object() const;
  // A header by (case-insensitive) name, "" if absent.
  std::string Header(std::string_view name) const;
  // `error.code` of an error body, "" if the body is not an error.
  std::string ErrorCode() const;
  // True if the body is exactly {"error":{"code":string,"message":string}}.
  bool IsErrorShape() const;
  // A one-line description for assertion messages.
  std::string Describe() const;
};

class HttpClient {
 public:
  explicit HttpClient(uint16_t port,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void set_port(uint16_t port) { port_ = port; }
  uint16_t port() const { return port_; }
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
  // Set: every request goes over TLS (https); a failed handshake is an error
  // starting "tls: ".
  void set_tls(std::optional<TlsOptions> tls) { tls_ = std::move(tls); }

  // Sends one request. A non-empty `body` gets Content-Type application/json
  // unless `headers` set one; a non-empty `token` adds Authorization: Bearer.
  HttpResponse Request(std::string_view method, std::string_view target,
                       std::string_view body = {}, std::string_view token = {},
                       const Headers& headers = {});
  HttpResponse Get(std::string_view target, std::string_view token = {});
  HttpResponse Post(std::string_view target, const boost::json::value& body,
                    std::string_view token = {});
  HttpResponse Delete(std::string_view target, std::string_view token = {});

  // Writes `bytes` verbatim on a new connection and reads one response (if
  // any arrives before the server closes or the timeout).
  HttpResponse SendRaw(std::string_view bytes);

  // Called (on the calling thread) once the request has been fully written.
  std::function<void()> on_request_sent;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t port_;
  std::chrono::milliseconds timeout_;
  std::optional<TlsOptions> tls_;
};

// Percent-encodes a query parameter value.
std::string UrlEncode(std::string_view s);

}  // namespace parley::testing
