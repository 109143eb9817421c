// The byte stream of one connection: plain TCP, or TLS over TCP. One type for
// both, chosen per connection at run time, so that code above it (the
// gateway's HTTP and WebSocket sessions, the test clients) is written once.
// Include only where TLS is needed: it pulls in the OpenSSL headers (the
// implementation itself is compiled once, in asio_impl.cc).
#pragma once

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>

#include <memory>
#include <utility>

namespace parley {

class Transport {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;
  using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

  explicit Transport(boost::asio::ip::tcp::socket socket) : plain_(std::move(socket)) {}

  // Puts TLS over the TCP stream; the caller runs the handshake on tls().
  void StartTls(boost::asio::ssl::context& context) {
    tls_ = std::make_unique<TlsStream>(std::move(plain_), context);
  }
  bool is_tls() const { return tls_ != nullptr; }
  TlsStream& tls() { return *tls_; }

  // The TCP stream under any TLS: connect, timeouts, the socket. Named
  // next_layer so that Beast's get_lowest_layer() finds it.
  boost::beast::tcp_stream& next_layer() { return tls_ ? tls_->next_layer() : plain_; }
  executor_type get_executor() { return next_layer().get_executor(); }

  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Handler>(handler));
    return plain_.async_read_some(buffers, std::forward<Handler>(handler));
  }

  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Handler>(handler));
    return plain_.async_write_some(buffers, std::forward<Handler>(handler));
  }

 private:
  boost::beast::tcp_stream plain_;  // moved into tls_ by StartTls
  std::unique_ptr<TlsStream> tls_;
};

// How a WebSocket over a Transport ends its connection (Beast finds these by
// argument-dependent lookup): TLS close_notify first when there is TLS.
inline void teardown(boost::beast::role_type role, Transport& t, boost::beast::error_code& ec) {
  if (t.is_tls()) return boost::beast::teardown(role, t.tls(), ec);
  boost::beast::teardown(role, t.next_layer(), ec);
}

template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, Transport& t, TeardownHandler&& handler) {
  if (t.is_tls()) {
    return boost::beast::async_teardown(role, t.tls(), std::forward<TeardownHandler>(handler));
  }
  boost::beast::async_teardown(role, t.next_layer(), std::forward<TeardownHandler>(handler));
}

}  // namespace parley
