// The boundary between the connection layer and the domain. The gateway knows
// sockets only; it hands requests and frames to a Service, and the domain
// reaches live connections through Peer. No Beast types cross this header.
#pragma once

#include <unistd.h>

#include <algorithm>
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

// The body of a request that is streamed instead of buffered (see
// Service::StreamedBodyLimit), read on demand.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Reads the next part of the body: `done` gets bytes, or "" once the body
  // is complete, or the error that ended it (TooLarge past the limit,
  // BadRequest for malformed chunking, Unavailable when the client went
  // away). One Read at a time; `done` runs on an io thread and must not block.
  virtual void Read(std::function<void(Result<std::string>)> done) = 0;
};

// A byte range of an open file, sent as a response body in chunks.
struct FileBody {
  FileBody(int fd, uint64_t offset, uint64_t length) : fd(fd), offset(offset), length(length) {}
  ~FileBody() { ::close(fd); }
  FileBody(const FileBody&) = delete;
  FileBody& operator=(const FileBody&) = delete;
  const int fd;  // owned
  uint64_t offset;
  uint64_t length;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::string body;
  std::string bearer_token;  // from "Authorization: Bearer ..."
  std::string content_type;
  std::string remote_address;
  std::optional<uint64_t> content_length;  // when the client declared one
  // Every header, names lower-case (for the few routes that need more than the above).
  std::vector<std::pair<std::string, std::string>> headers;
  // Set instead of `body` for streamed requests.
  std::shared_ptr<BodyReader> body_reader;

  std::optional<std::string> Header(std::string_view lower_case_name) const {
    for (const auto& [k, v] : headers) {
      if (k == lower_case_name) return v;
    }
    return std::nullopt;
  }

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
  // Set: the body is these file bytes instead of `body` (large downloads).
  std::shared_ptr<FileBody> file = nullptr;
};

// The Retry-After header value of a refusal that has one (rate_limited,
// unavailable): its wait in whole seconds, at least 1.
inline std::optional<int64_t> RetryAfterSeconds(const Status& status) {
  if (status.code() != Code::kRateLimited && status.code() != Code::kUnavailable) return {};
  return std::max<int64_t>(1, (status.retry_after_ms() + 999) / 1000);
}

// Call exactly once, from any thread.
using HttpResponder = std::function<void(HttpResponse)>;

// Who a bearer token belongs to, as the service resolved it.
struct Identity {
  std::string user_id;
  // Opaque to the gateway (the service's key of the token): revoking the
  // token closes every session opened with it.
  std::string credential;
};

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
  // The Identity::credential the session authenticated with; "" if none.
  virtual const std::string& credential() const { return NoValue(); }
  // The client's IP address; "" when the peer is not a socket.
  virtual const std::string& remote_address() const { return NoValue(); }
  // When the session opened (ms since the epoch); 0 when unknown. An entry
  // written before it reached the client by sync, not live.
  virtual int64_t opened_at_ms() const { return 0; }

 private:
  static const std::string& NoValue() {
    static const std::string kEmpty;
    return kEmpty;
  }
};
using PeerPtr = std::shared_ptr<Peer>;

// The domain as the gateway sees it.
class Service {
 public:
  virtual ~Service() = default;
  virtual void HandleHttp(HttpRequest request, HttpResponder respond) = 0;
  // Asked on an io thread once a request's headers are read (cheap, no
  // blocking): a value streams the body through request.body_reader, up to
  // that many bytes (a larger Content-Length is refused with 413 before any
  // of the body is read); nullopt buffers it as usual. A streamed request
  // answered before its body was read to the end closes the connection.
  virtual std::optional<uint64_t> StreamedBodyLimit(const HttpRequest& head) {
    return std::nullopt;
  }
  // Resolves a bearer token to its identity; `done` may run on any thread.
  virtual void Authenticate(std::string token, std::function<void(Result<Identity>)> done) = 0;
  // A session is authenticated and registered; the service greets it.
  virtual void OnOpen(const PeerPtr& peer) = 0;
  // A text frame arrived. Called in order, one at a time per session.
  virtual void OnFrame(const PeerPtr& peer, std::string text) = 0;
  virtual void OnClose(const PeerPtr& peer) = 0;
};

}  // namespace parley::gateway

