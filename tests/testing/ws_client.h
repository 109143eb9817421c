// WsClient: a WebSocket client for black-box tests. A private io thread keeps
// reading frames into a queue (so the server never sees a stalled reader and
// the client notices closes); the test thread sends and waits on the queue
// with deadlines. Beast/Asio stay out of this header.
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "testing/tls_options.h"

namespace parley::testing {

using namespace std::chrono_literals;

enum class WsAuth {
  kNone,    // no credentials on the upgrade (auth by first frame, or none)
  kHeader,  // Authorization: Bearer TOKEN
  kQuery,   // /v1/ws?token=TOKEN
};

struct WsOptions {
  WsAuth auth = WsAuth::kHeader;
  std::string token;
  std::string target = "/v1/ws";
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout = 5s;
  std::optional<TlsOptions> tls;  // set: wss (a failed TLS handshake: error() starts "tls: ")
};

class WsClient {
 public:
  // Connects and performs the upgrade. Always returns a client; check
  // connected() / handshake_status() / error().
  static std::unique_ptr<WsClient> Connect(uint16_t port, WsOptions options);
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  bool connected() const { return connected_; }
  // HTTP status of the upgrade response (101 on success, 0 if none).
  int handshake_status() const { return handshake_status_; }
  const std::string& handshake_body() const { return handshake_body_; }
  std::string error() const;

  // Send one frame; false if the connection is closed or the write failed
  // or timed out (the connection is then torn down).
  bool SendText(std::string_view text, std::chrono::milliseconds timeout = 5s);
  bool SendJson(const boost::json::object& frame, std::chrono::milliseconds timeout = 5s);
  bool SendBinary(std::string_view bytes, std::chrono::milliseconds timeout = 5s);

  // The next frame, parsed. Non-JSON frames come back as
  // {"op":"__invalid__","raw":TEXT}, binary ones as {"op":"__binary__"}.
  // nullopt on timeout or once closed and drained.
  std::optional<boost::json::object> ReadFrame(std::chrono::milliseconds timeout = 5s);
  // Reads frames until one satisfies `pred`; others are dropped (appended to
  // `skipped` if given). nullopt on timeout/close.
  std::optional<boost::json::object> ReadUntil(
      const std::function<bool(const boost::json::object&)>& pred,
      std::chrono::milliseconds timeout = 5s,
      std::vector<boost::json::object>* skipped = nullptr);
  // ReadUntil(frame.op == op).
  std::optional<boost::json::object> ReadOp(std::string_view op,
                                            std::chrono::milliseconds timeout = 5s,
                                            std::vector<boost::json::object>* skipped = nullptr);
  // True if no frame arrives within `d` (a frame that does arrive is
  // consumed and stored in `got`).
  bool ExpectNoFrame(std::chrono::milliseconds d, boost::json::object* got = nullptr);

  bool IsOpen() const;
  // Waits until the connection is closed (by either side). Queued frames are
  // kept.
  bool WaitClosed(std::chrono::milliseconds timeout = 5s);
  // The code of the server's close frame, once closed by one; nullopt if
  // still open or the TCP connection ended without a close frame.
  std::optional<int> CloseCode() const;
  // Client-initiated close (1000), waits for it briefly.
  void Close();

 private:
  struct Impl;
  WsClient();
  std::unique_ptr<Impl> impl_;
  bool connected_ = false;
  int handshake_status_ = 0;
  std::string handshake_body_;
};

}  // namespace parley::testing
