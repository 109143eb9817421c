#include "testing/ws_client.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "testing/http_client.h"
#include "testing/tls_client.h"

namespace parley::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct WsClient::Impl {
  asio::io_context ioc;
  std::unique_ptr<asio::ssl::context> tls_context;  // outlives ws
  websocket::stream<Transport> ws{tcp::socket(ioc)};
  beast::flat_buffer rbuf;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread io;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<bool, std::string>> frames;  // (binary, payload)
  bool closed = false;
  bool broken = false;
  std::optional<int> close_code;
  std::string error;

  void CloseSocket() {
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws).socket().close(ignored);
  }

  // Runs on the io thread: one read outstanding at all times until closed.
  void DoRead() {
    ws.async_read(rbuf, [this](boost::system::error_code ec, std::size_t) {
      if (ec) {
        std::lock_guard lock(mu);
        closed = true;
        // A close frame that arrived is recorded even if replying to it
        // failed (the server may drop the TCP connection right after it).
        if (ec == websocket::error::closed || ws.reason().code != websocket::close_code::none) {
          close_code = static_cast<int>(ws.reason().code);
        }
        if (error.empty()) error = "read: " + ec.message();
        CloseSocket();
        cv.notify_all();
        return;
      }
      std::string payload = beast::buffers_to_string(rbuf.data());
      rbuf.consume(rbuf.size());
      {
        std::lock_guard lock(mu);
        frames.emplace_back(ws.got_binary(), std::move(payload));
        cv.notify_all();
      }
      DoRead();
    });
  }

  bool Write(std::string_view bytes, bool binary, std::chrono::milliseconds timeout) {
    {
      std::lock_guard lock(mu);
      if (closed || broken) return false;
    }
    struct State {
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      boost::system::error_code ec;
    };
    auto st = std::make_shared<State>();
    auto data = std::make_shared<std::string>(bytes);
    asio::post(ioc, [this, st, data, binary] {
      ws.binary(binary);
      ws.async_write(asio::buffer(*data), [st, data](boost::system::error_code ec, std::size_t) {
        std::lock_guard lock(st->mu);
        st->done = true;
        st->ec = ec;
        st->cv.notify_all();
      });
    });
    std::unique_lock lock(st->mu);
    if (!st->cv.wait_for(lock, timeout, [&] { return st->done; })) {
      lock.unlock();
      std::lock_guard l(mu);
      broken = true;
      error = "write timed out";
      asio::post(ioc, [this] { CloseSocket(); });
      return false;
    }
    if (st->ec) {
      std::lock_guard l(mu);
      if (error.empty()) error = "write: " + st->ec.message();
      return false;
    }
    return true;
  }
};

WsClient::WsClient() : impl_(std::make_unique<Impl>()) {}

WsClient::~WsClient() {
  if (impl_->io.joinable()) {
    asio::post(impl_->ioc, [impl = impl_.get()] { impl->CloseSocket(); });
    impl_->guard.reset();
    impl_->io.join();  // returns once the cancelled read and writes completed
  }
}

std::unique_ptr<WsClient> WsClient::Connect(uint16_t port, WsOptions options) {
  std::unique_ptr<WsClient> client(new WsClient());
  Impl& im = *client->impl_;
  std::string target = options.target;
  if (options.auth == WsAuth::kQuery) {
    target += (target.find('?') == std::string::npos ? "?token=" : "&token=") +
              UrlEncode(options.token);
  }
  Headers headers = options.headers;
  if (options.auth == WsAuth::kHeader) headers.emplace_back("Authorization", "Bearer " + options.token);
  im.ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    req.set(beast::http::field::user_agent, "parley-integration-test");
    for (auto const& [name, value] : headers) req.set(name, value);
  }));
  im.ws.auto_fragment(false);  // one frame per message, so size limits are exact

  websocket::response_type res;
  bool done = false;
  boost::system::error_code result;
  std::string host = "127.0.0.1:" + std::to_string(port);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  if (options.tls) im.tls_context = MakeClientTlsContext(*options.tls);
  bool tls_failed = false;
  auto upgrade = [&] {
    im.ws.async_handshake(res, host, target, [&](boost::system::error_code ec2) {
      done = true;
      result = ec2;
    });
  };
  beast::get_lowest_layer(im.ws).async_connect(ep, [&](boost::system::error_code ec) {
    if (ec) {
      done = true;
      result = ec;
      return;
    }
    if (!im.tls_context) return upgrade();
    AsyncClientHandshake(im.ws.next_layer(), *im.tls_context, [&](boost::system::error_code ec2) {
      if (!ec2) return upgrade();
      done = tls_failed = true;
      result = ec2;
    });
  });
  im.ioc.run_for(options.timeout);
  if (!done) {
    im.CloseSocket();
    im.ioc.restart();
    im.ioc.run();
    im.error = "handshake timed out";
    return client;
  }
  client->handshake_status_ = static_cast<int>(res.result_int());
  client->handshake_body_ = res.body();
  if (result) {
    im.error = (tls_failed ? "tls: " : "handshake: ") + result.message();
    im.CloseSocket();
    im.closed = true;
    return client;
  }
  client->connected_ = true;
  im.ioc.restart();
  im.guard.emplace(im.ioc.get_executor());
  im.DoRead();
  im.io = std::thread([&im] { im.ioc.run(); });
  return client;
}

std::string WsClient::error() const {
  std::lock_guard lock(impl_->mu);
  return impl_->error;
}

bool WsClient::SendText(std::string_view text, std::chrono::milliseconds timeout) {
  return connected_ && impl_->Write(text, false, timeout);
}

bool WsClient::SendJson(const json::object& frame, std::chrono::milliseconds timeout) {
  return SendText(json::serialize(frame), timeout);
}

bool WsClient::SendBinary(std::string_view bytes, std::chrono::milliseconds timeout) {
  return connected_ && impl_->Write(bytes, true, timeout);
}

std::optional<json::object> WsClient::ReadFrame(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait_for(lock, timeout, [&] { return !impl_->frames.empty() || impl_->closed; });
  if (impl_->frames.empty()) return std::nullopt;
  auto [binary, payload] = std::move(impl_->frames.front());
  impl_->frames.pop_front();
  lock.unlock();
  if (binary) return json::object{{"op", "__binary__"}, {"raw", payload}};
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object()) return json::object{{"op", "__invalid__"}, {"raw", payload}};
  return std::move(v.as_object());
}

std::optional<json::object> WsClient::ReadUntil(
    const std::function<bool(const json::object&)>& pred, std::chrono::milliseconds timeout,
    std::vector<json::object>* skipped) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    auto frame = ReadFrame(left);
    if (!frame) return std::nullopt;
    if (pred(*frame)) return frame;
    if (skipped) skipped->push_back(std::move(*frame));
  }
}

std::optional<json::object> WsClient::ReadOp(std::string_view op, std::chrono::milliseconds timeout,
                                             std::vector<json::object>* skipped) {
  return ReadUntil(
      [op](const json::object& f) {
        auto* v = f.if_contains("op");
        return v && v->is_string() && v->as_string() == op;
      },
      timeout, skipped);
}

bool WsClient::ExpectNoFrame(std::chrono::milliseconds d, json::object* got) {
  std::unique_lock lock(impl_->mu);
  bool any = impl_->cv.wait_for(lock, d, [&] { return !impl_->frames.empty(); });
  lock.unlock();
  if (!any) return true;
  auto frame = ReadFrame(0ms);
  if (got && frame) *got = *frame;
  return false;
}

bool WsClient::IsOpen() const {
  std::lock_guard lock(impl_->mu);
  return connected_ && !impl_->closed && !impl_->broken;
}

bool WsClient::WaitClosed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->closed; });
}

std::optional<int> WsClient::CloseCode() const {
  std::lock_guard lock(impl_->mu);
  return impl_->close_code;
}

void WsClient::Close() {
  if (!IsOpen()) return;
  asio::post(impl_->ioc, [impl = impl_.get()] {
    impl->ws.async_close(websocket::close_code::normal, [](boost::system::error_code) {});
  });
  if (!WaitClosed(2s)) asio::post(impl_->ioc, [impl = impl_.get()] { impl->CloseSocket(); });
  WaitClosed(2s);
}

}  // namespace parley::testing
