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

// One HTTP/1.1 connection: reads requests one at a time, hands them to the
// Service, writes responses; upgrades /v1/ws to a WsSession.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, Gateway::Impl& gw);
  ~HttpSession();
  void Start();

 private:
  void DoRead();
  void OnRead(beast::error_code ec);
  void Upgrade(http::request<http::string_body> req);
  void Respond(HttpResponse response, bool keep_alive);
  void RespondError(const Status& status, bool keep_alive);

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Gateway::Impl& gw_;
};

// One WebSocket session: a read loop handing text frames to the Service and a
// bounded write queue with one write in flight.
class WsSession : public Peer, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(beast::tcp_stream stream, Gateway::Impl& gw, std::string user_id);
  ~WsSession() override;
  void Accept(http::request<http::string_body> req);

  void Send(std::shared_ptr<const std::string> frame, uint64_t version) override;
  void Close(uint16_t code, std::string reason) override;
  const std::string& user_id() const override { return user_id_; }
  const std::string& session_id() const override { return session_id_; }

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
  std::string session_id_;
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
