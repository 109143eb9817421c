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
#include "gateway/origin_policy.h"
#include "net/transport.h"

namespace parley::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

class WsSession;

// The server's TLS settings: TLS 1.2 and 1.3 only, AEAD ciphers with forward
// secrecy, the server's cipher order, no renegotiation or compression; the
// certificate chain and key from PEM files. A clear error when a file is
// missing or unreadable or the key does not match the certificate.
Result<std::unique_ptr<net::ssl::context>> MakeServerTlsContext(const std::string& cert_file,
                                                                const std::string& key_file);

struct Gateway::Impl {
  Impl(GatewayOptions o, Service& s, MetricsRegistry& m, const Clock& clock);

  const GatewayOptions options;
  Service& service;
  net::io_context ioc;
  tcp::acceptor acceptor;
  net::steady_timer accept_backoff;
  std::unique_ptr<net::ssl::context> tls;  // set by Start() when TLS is configured
  std::optional<OriginPolicy> origins;     // set by Start()
  Admission admission;
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
  Counter& http_timeouts;
  Counter& tls_handshake_failures;
  Counter& refused_max_connections;
  Counter& refused_address_rate;
  Counter& refused_handshakes;
  Counter& refused_user_sessions;
  Counter& refused_origin;

  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  // Counts a refusal of BeginHandshake by its reason.
  void CountRefusal(const Status& status);
  void Register(WsSession* s);
  void Unregister(WsSession* s);
};

// One HTTP/1.1 connection: reads requests one at a time (headers first, then
// the body buffered or streamed to the Service), hands them to the Service,
// writes responses (strings or file ranges); upgrades /v1/ws to a WsSession.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, Admission::Slot connection, Gateway::Impl& gw);
  ~HttpSession();
  void Start();
  // The next chunk of the body of request number `request` (see BodyReader).
  void ReadBody(uint64_t request, std::function<void(Result<std::string>)> done);

 private:
  void Begin();
  void DetectTls();
  void OnTlsHandshake(beast::error_code ec, size_t used);
  void DoRead();
  void OnHeader(beast::error_code ec);
  Status CheckOrigin(const http::request_header<>& head);
  void RespondPreflight();
  void Refuse(const Status& status);
  void OnBody(beast::error_code ec, HttpRequest request);
  void ReadChunk(std::function<void(Result<std::string>)> done);
  void StartStream(HttpRequest request, uint64_t limit);
  void ContinueThenRead(std::function<void(Result<std::string>)> done);
  void OnChunk(beast::error_code ec, const std::function<void(Result<std::string>)>& done);
  void Dispatch(HttpRequest request);
  void Upgrade(http::request<http::string_body> req);
  void StartWebSocket(Identity identity, http::request<http::string_body> req);
  void Respond(HttpResponse response);
  void RespondFile(HttpResponse response);
  void WriteFileChunk(std::shared_ptr<FileBody> file, uint64_t sent);
  void RespondError(const Status& status);
  void AfterResponse(beast::error_code ec);
  void Drain();
  void Shutdown();

  Transport stream_;
  beast::flat_buffer buffer_;
  Admission::Slot connection_;
  Admission::Slot handshake_;  // held until the first request (an upgrade: until authenticated)
  Status refusal_;             // admission said no: the first request gets this answer
  std::string address_;        // of the client
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
  std::string cors_origin_;       // an allowed cross-origin request: CORS headers on the answer
  size_t drained_ = 0;
};

// One WebSocket session: a read loop handing text frames to the Service and a
// bounded write queue with one write in flight.
class WsSession : public Peer, public std::enable_shared_from_this<WsSession> {
 public:
  // An empty identity: the client authenticates with its first frame.
  WsSession(Transport stream, Gateway::Impl& gw, Identity identity, Admission::Slot connection,
            Admission::Slot handshake);
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

  websocket::stream<Transport> ws_;
  beast::flat_buffer buffer_;
  Gateway::Impl& gw_;
  Admission::Slot connection_;
  Admission::Slot handshake_;  // released once authenticated
  Admission::Slot user_session_;
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
