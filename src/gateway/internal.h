// Private to the gateway: the Beast session types and the shared state they
// register with. Included only by gateway/*.cc.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "gateway/gateway.h"

namespace parley::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

class WsSession;

struct Gateway::Impl {
  Impl(GatewayOptions o, Service& s, MetricsRegistry& m);

  const GatewayOptions options;
  Service& service;
  net::io_context ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::atomic<bool> accepting{false};
  std::atomic<uint64_t> next_session{1};

  std::mutex sessions_mu;
  std::unordered_set<WsSession*> sessions;  // guarded by sessions_mu

  Gauge& connections;
  Gauge& http_connections;
  Counter& frames_in;
  Counter& slow_consumers;
  Counter& oversize_frames;

  void DoAccept();
  void Register(WsSession* s);
  void Unregister(WsSession* s);
};

// One HTTP/1.1 connection: reads requests one at a time (headers first, then
// the body buffered or streamed to the Service), hands them to the Service,
// writes responses (strings or file ranges); upgrades /v1/ws to a WsSession.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, Gateway::Impl& gw);
  ~HttpSession();
  void Start();
  // The next chunk of the body of request number `request` (see BodyReader).
  void ReadBody(uint64_t request, std::function<void(Result<std::string>)> done);

 private:
  void DoRead();
  void OnHeader(beast::error_code ec);
  void OnBody(beast::error_code ec, HttpRequest request);
  void ReadChunk(std::function<void(Result<std::string>)> done);
  void StartStream(HttpRequest request, uint64_t limit);
  void ContinueThenRead(std::function<void(Result<std::string>)> done);
  void OnChunk(beast::error_code ec, const std::function<void(Result<std::string>)>& done);
  void Dispatch(HttpRequest request);
  void Upgrade(http::request<http::string_body> req);
  void Respond(HttpResponse response);
  void RespondFile(HttpResponse response);
  void WriteFileChunk(std::shared_ptr<FileBody> file, uint64_t sent);
  void RespondError(const Status& status);
  void AfterResponse(beast::error_code ec);
  void Drain();
  void Shutdown();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> header_parser_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::request_parser<http::buffer_body>> stream_parser_;
  std::vector<char> chunk_;  // streamed request bodies and file responses pass through it
  Gateway::Impl& gw_;
  uint64_t request_ = 0;  // counts the requests of the connection
  // Of the current request.
  bool keep_alive_ = false;
  bool expect_continue_ = false;  // a streamed body waits for "100 Continue"
  bool reading_body_ = false;     // a ReadChunk is in flight
  bool responded_ = false;
  bool body_left_ = false;        // answered before its body was read: drain, then close
  size_t drained_ = 0;
};

// One WebSocket session: a read loop handing text frames to the Service and a
// bounded write queue with one write in flight.
class WsSession : public Peer, public std::enable_shared_from_this<WsSession> {
 public:
  // An empty identity: the client authenticates with its first frame.
  WsSession(beast::tcp_stream stream, Gateway::Impl& gw, Identity identity);
  ~WsSession() override;
  void Accept(http::request<http::string_body> req);

  void Send(std::shared_ptr<const std::string> frame, uint64_t version) override;
  void Close(uint16_t code, std::string reason) override;
  const std::string& user_id() const override { return user_id_; }
  const std::string& session_id() const override { return session_id_; }
  const std::string& credential() const override { return credential_; }
  const std::string& remote_address() const override { return remote_address_; }

 private:
  void OnAccept(beast::error_code ec);
  void Open();
  void DoRead();
  void OnRead(beast::error_code ec, size_t bytes);
  void HandleAuthFrame(const std::string& text);
  void Enqueue(std::shared_ptr<const std::string> frame);
  void DoWrite();
  void OnWrite(beast::error_code ec);
  void DoClose(uint16_t code, std::string reason);
  void Finish();

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  Gateway::Impl& gw_;
  std::string user_id_;  // empty until authenticated
  std::string credential_;  // set with user_id_
  std::string session_id_;
  std::string remote_address_;
  net::steady_timer auth_timer_;
  // Frames waiting to be written: [queue_head_, end). A vector, not a deque:
  // an empty deque still holds ~600 bytes, and most sessions are idle.
  std::vector<std::shared_ptr<const std::string>> queue_;
  size_t queue_head_ = 0;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closing_ = false;
  bool opened_ = false;
  bool finished_ = false;
};

}  // namespace parley::gateway
