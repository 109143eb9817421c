#include "client/transport.h"

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <deque>

namespace parley::client::internal {
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

namespace {

ssl::context& TlsContext() {
  static ssl::context* ctx = [] {
    auto* c = new ssl::context(ssl::context::tls_client);
    c->set_default_verify_paths();
    c->set_verify_mode(ssl::verify_peer);
    return c;
  }();
  return *ctx;
}

void PrepareTls(TlsStream& stream, const std::string& host) {
  SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
  stream.set_verify_callback(ssl::host_name_verification(host));
}

// Resolves and connects the TCP layer of `stream`.
template <class Stream>
net::awaitable<beast::error_code> ConnectTcp(Stream& stream, const ServerUrl& url, Millis timeout) {
  tcp::resolver resolver(co_await net::this_coro::executor);
  auto [ec, results] = co_await resolver.async_resolve(url.host, url.port, kTuple);
  if (ec) co_return ec;
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(timeout);
  std::tie(ec, std::ignore) = co_await lowest.async_connect(results, kTuple);
  if (ec) co_return ec;
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    PrepareTls(stream, url.host);
    lowest.expires_after(timeout);
    std::tie(ec) = co_await stream.async_handshake(ssl::stream_base::client, kTuple);
  }
  co_return ec;
}

void FillReply(const http::response<http::string_body>& res, HttpReply& out) {
  out.status = res.result_int();
  out.body = res.body();
  out.content_type = std::string(res[http::field::content_type]);
  out.retry_after_ms = ParseRetryAfter(res[http::field::retry_after]);
}

template <class Stream, class Request>
net::awaitable<beast::error_code> Exchange(Stream stream, const ServerUrl& url, Request req,
                                           Millis timeout, HttpReply& out) {
  beast::error_code ec = co_await ConnectTcp(stream, url, timeout);
  if (ec) co_return ec;
  beast::get_lowest_layer(stream).expires_after(timeout);
  std::tie(ec, std::ignore) = co_await http::async_write(stream, req, kTuple);
  if (ec) co_return ec;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256ull * 1024 * 1024);
  beast::get_lowest_layer(stream).expires_after(timeout);
  std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, parser, kTuple);
  if (ec) co_return ec;
  FillReply(parser.get(), out);
  beast::get_lowest_layer(stream).close();
  co_return ec;
}

}  // namespace

int64_t ParseRetryAfter(std::string_view value) {
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || seconds < 0) return 0;
  return seconds * 1000;
}

namespace {

// Runs one exchange of `req` (any body type) to completion on a private io_context.
template <class Request>
Result<HttpReply> RunExchange(const ServerUrl& url, Request req, Millis timeout) {
  net::io_context ioc;
  HttpReply reply;
  std::string failure;
  auto done = [&](std::exception_ptr e, beast::error_code ec) {
    try {
      if (e) std::rethrow_exception(e);
      if (ec) failure = ec.message();
    } catch (const std::exception& ex) {
      failure = ex.what();
    }
  };
  if (url.tls) {
    net::co_spawn(ioc, Exchange(TlsStream(ioc, TlsContext()), url, std::move(req), timeout, reply),
                  done);
  } else {
    net::co_spawn(ioc, Exchange(beast::tcp_stream(ioc), url, std::move(req), timeout, reply), done);
  }
  ioc.run();
  if (!failure.empty()) return Unavailable("cannot reach " + url.ToString() + ": " + failure);
  return reply;
}

template <class Body>
http::request<Body> MakeRequest(const ServerUrl& url, std::string_view method,
                                std::string_view target, const std::string& token,
                                std::string_view content_type) {
  http::request<Body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, url.HostHeader());
  req.set(http::field::user_agent, "parley-client");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  return req;
}

}  // namespace

Result<HttpReply> HttpExchange(const ServerUrl& url, std::string_view method,
                               std::string_view target, const std::string& token, std::string body,
                               std::string_view content_type, Millis timeout) {
  auto req = MakeRequest<http::string_body>(url, method, target, token, content_type);
  req.body() = std::move(body);
  req.prepare_payload();
  return RunExchange(url, std::move(req), timeout);
}

Result<HttpReply> HttpPostFile(const ServerUrl& url, std::string_view target,
                               const std::string& token, const std::string& path,
                               std::string_view content_type, Millis timeout) {
  auto req = MakeRequest<http::file_body>(url, "POST", target, token, content_type);
  beast::error_code ec;
  req.body().open(path.c_str(), beast::file_mode::scan, ec);
  if (ec) return BadRequest("cannot read " + path + ": " + ec.message());
  req.prepare_payload();
  return RunExchange(url, std::move(req), timeout);
}

namespace {

template <class Next>
class WsConnectionImpl final : public WsConnection {
 public:
  template <class... Args>
  explicit WsConnectionImpl(Args&&... args) : ws_(std::forward<Args>(args)...) {}

  net::awaitable<beast::error_code> Connect(ServerUrl url, std::string token, Millis timeout,
                                            Millis idle_timeout, HttpReply* declined) override {
    beast::error_code ec = co_await ConnectTcp(ws_.next_layer(), url, timeout);
    if (ec) co_return ec;
    beast::get_lowest_layer(ws_).expires_never();  // the websocket timeouts take over
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::client);
    timeouts.handshake_timeout = timeout;
    timeouts.idle_timeout = idle_timeout.count() > 0
                                ? std::chrono::duration_cast<std::chrono::seconds>(idle_timeout)
                                : websocket::stream_base::none();
    timeouts.keep_alive_pings = idle_timeout.count() > 0;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
      req.set(http::field::authorization, "Bearer " + token);
      req.set(http::field::user_agent, "parley-client");
    }));
    websocket::response_type res;
    std::tie(ec) = co_await ws_.async_handshake(res, url.HostHeader(), "/v1/ws", kTuple);
    if (ec && declined != nullptr && res.result_int() != 0) FillReply(res, *declined);
    co_return ec;
  }

  net::awaitable<beast::error_code> Read(std::string& out) override {
    auto [ec, n] = co_await ws_.async_read(buffer_, kTuple);
    if (ec == websocket::error::closed) {
      close_code_ = ws_.reason().code;
      close_reason_ = std::string(ws_.reason().reason.c_str());
    }
    if (ec) co_return ec;
    out = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    co_return ec;
  }

  void Write(std::string frame) override {
    queue_.push_back(std::move(frame));
    if (!writing_) DoWrite();
  }

  size_t queued_frames() const override { return queue_.size(); }

  void Close(uint16_t code) override {
    if (closing_) return;
    closing_ = true;
    ws_.async_close(websocket::close_reason(code),
                    [self = shared_from_this()](beast::error_code) {});
  }

  void Abort() override {
    closing_ = true;
    beast::get_lowest_layer(ws_).close();
  }

  uint16_t close_code() const override { return close_code_; }
  std::string close_reason() const override { return close_reason_; }

 private:
  void DoWrite() {
    if (queue_.empty() || closing_) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(queue_.front()),
                    [self = shared_from_this(), this](beast::error_code ec, size_t) {
                      writing_ = false;
                      if (ec) return;
                      queue_.pop_front();
                      DoWrite();
                    });
  }

  websocket::stream<Next> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool closing_ = false;
  uint16_t close_code_ = 0;
  std::string close_reason_;
};

}  // namespace

std::shared_ptr<WsConnection> MakeWsConnection(const net::any_io_executor& executor, bool tls) {
  if (tls) return std::make_shared<WsConnectionImpl<TlsStream>>(executor, TlsContext());
  return std::make_shared<WsConnectionImpl<beast::tcp_stream>>(executor);
}

}  // namespace parley::client::internal
