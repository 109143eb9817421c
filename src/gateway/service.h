// The boundary between the connection layer and the domain. The gateway knows
// sockets only; it hands requests and frames to a Service, and the domain
// reaches live connections through Peer. No Beast types cross this header.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace parley::gateway {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::string body;
  std::string bearer_token;  // from "Authorization: Bearer ..."
  std::string content_type;
  std::string remote_address;

  std::optional<std::string> Query(std::string_view key) const {
    for (const auto& [k, v] : query) {
      if (k == key) return v;
    }
    return std::nullopt;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Call exactly once, from any thread.
using HttpResponder = std::function<void(HttpResponse)>;

// A live, authenticated WebSocket session.
class Peer {
 public:
  virtual ~Peer() = default;
  // Queues a text frame. Thread-safe and never blocks; a session whose queue
  // is over its bound is closed with 1013 instead.
  // `version` is the store version of the entry the frame carries (0: none);
  // it lets a session drop live frames that a concurrent sync already sent.
  virtual void Send(std::shared_ptr<const std::string> frame, uint64_t version = 0) = 0;
  virtual void Close(uint16_t code, std::string reason) = 0;  // thread-safe
  virtual const std::string& user_id() const = 0;
  virtual const std::string& session_id() const = 0;
};
using PeerPtr = std::shared_ptr<Peer>;

// The domain as the gateway sees it.
class Service {
 public:
  virtual ~Service() = default;
  virtual void HandleHttp(HttpRequest request, HttpResponder respond) = 0;
  // Resolves a bearer token to its user id; `done` may run on any thread.
  virtual void Authenticate(std::string token, std::function<void(Result<std::string>)> done) = 0;
  // A session is authenticated and registered; the service greets it.
  virtual void OnOpen(const PeerPtr& peer) = 0;
  // A text frame arrived. Called in order, one at a time per session.
  virtual void OnFrame(const PeerPtr& peer, std::string text) = 0;
  virtual void OnClose(const PeerPtr& peer) = 0;
};

}  // namespace parley::gateway

