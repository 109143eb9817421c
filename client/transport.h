// Internal: the Asio/Beast transport of the client library (not a public
// header). Plain and TLS streams behind one interface, coroutine based; every
// call runs on the io_context that owns the connection.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "client/url.h"
#include "common/status.h"

namespace parley::client::internal {

namespace net = boost::asio;
namespace beast = boost::beast;
using Millis = std::chrono::milliseconds;

struct HttpReply {
  int status = 0;
  std::string body;
  std::string content_type;
  int64_t retry_after_ms = 0;  // from Retry-After (seconds), 0 if absent
};

// Retry-After in seconds (the only form the server sends) → ms; 0 if unusable.
int64_t ParseRetryAfter(std::string_view value);

// One blocking HTTP exchange on a fresh connection. Fails (kUnavailable) only
// when no HTTP answer arrived; any status code is a reply.
Result<HttpReply> HttpExchange(const ServerUrl& url, std::string_view method,
                               std::string_view target, const std::string& token, std::string body,
                               std::string_view content_type, Millis timeout);

// The same, with the file at `path` as the body, sent as it is read (a large
// file is never held in memory). BadRequest when the file cannot be read.
Result<HttpReply> HttpPostFile(const ServerUrl& url, std::string_view target,
                               const std::string& token, const std::string& path,
                               std::string_view content_type, Millis timeout);

// A client WebSocket. Read() may run concurrently with Write() and Abort().
class WsConnection : public std::enable_shared_from_this<WsConnection> {
 public:
  virtual ~WsConnection() = default;
  // TCP (+TLS) connect and the upgrade with `Authorization: Bearer token`.
  // When the server answers HTTP instead of 101, `declined` gets its reply.
  virtual net::awaitable<beast::error_code> Connect(ServerUrl url, std::string token,
                                                    Millis timeout, Millis idle_timeout,
                                                    HttpReply* declined) = 0;
  // The next text frame. websocket::error::closed once the server closed.
  virtual net::awaitable<beast::error_code> Read(std::string& out) = 0;
  // Queues a text frame; frames go out in order.
  virtual void Write(std::string frame) = 0;
  // Frames queued and not yet written (the one being written included).
  virtual size_t queued_frames() const = 0;
  // Starts a close handshake; Read() then ends.
  virtual void Close(uint16_t code) = 0;
  // Closes the socket now; pending operations end with an error.
  virtual void Abort() = 0;
  // The code of the server's close frame, 0 if none was received.
  virtual uint16_t close_code() const = 0;
  virtual std::string close_reason() const = 0;
};

std::shared_ptr<WsConnection> MakeWsConnection(const net::any_io_executor& executor, bool tls);

}  // namespace parley::client::internal
