#include <spdlog/spdlog.h>

#include <chrono>

#include "gateway/internal.h"

namespace parley::gateway {

namespace {

constexpr auto kAcceptBackoff = std::chrono::milliseconds(50);

Counter& RefusedCounter(MetricsRegistry& m, std::string_view reason) {
  return m.AddCounter("parley_connections_refused_total",
                      "Connections and upgrades refused by admission control or the Origin check",
                      "reason=\"" + std::string(reason) + "\"");
}

}  // namespace

Gateway::Impl::Impl(GatewayOptions o, Service& s, MetricsRegistry& m, const Clock& clock)
    : options(std::move(o)),
      service(s),
      ioc(static_cast<int>(options.threads)),
      acceptor(net::make_strand(ioc)),
      accept_backoff(acceptor.get_executor()),
      admission(clock, options.admission),
      connections(m.AddGauge("parley_connections", "Open WebSocket sessions")),
      http_connections(m.AddGauge("parley_http_connections", "Open HTTP connections")),
      frames_in(m.AddCounter("parley_frames_in_total", "WebSocket frames received")),
      slow_consumers(m.AddCounter("parley_slow_consumer_closes_total",
                                  "Sessions closed with 1013 because their queue was full")),
      oversize_frames(m.AddCounter("parley_oversize_frames_total",
                                   "Sessions closed with 1009 for an oversize frame")),
      http_timeouts(m.AddCounter("parley_http_timeouts_total",
                                 "Connections closed for sending a request's headers or body "
                                 "too slowly (or idling)")),
      tls_handshake_failures(m.AddCounter("parley_tls_handshake_failures_total",
                                          "TLS handshakes that failed (old protocol, no shared "
                                          "cipher, not TLS, timeout)")),
      refused_max_connections(RefusedCounter(m, "max_connections")),
      refused_address_rate(RefusedCounter(m, "address_rate")),
      refused_handshakes(RefusedCounter(m, "max_handshakes")),
      refused_user_sessions(RefusedCounter(m, "user_sessions")),
      refused_origin(RefusedCounter(m, "origin")) {}

void Gateway::Impl::DoAccept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void Gateway::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (!accepting) return;
  if (ec) {
    // Out of file descriptors, typically: pause instead of spinning on the error.
    spdlog::warn("event=accept_failed error=\"{}\"", ec.message());
    accept_backoff.expires_after(kAcceptBackoff);
    accept_backoff.async_wait([this](beast::error_code) {
      if (accepting) DoAccept();
    });
    return;
  }
  if (auto slot = admission.OpenConnection()) {
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<HttpSession>(std::move(socket), std::move(*slot), *this)->Start();
  } else {
    refused_max_connections.Inc();  // closed unanswered: answering costs what the cap saves
  }
  DoAccept();
}

void Gateway::Impl::CountRefusal(const Status& status) {
  (status.code() == Code::kRateLimited ? refused_address_rate : refused_handshakes).Inc();
}

void Gateway::Impl::Register(WsSession* s) {
  std::lock_guard lock(sessions_mu);
  sessions.insert(s);
}

void Gateway::Impl::Unregister(WsSession* s) {
  std::lock_guard lock(sessions_mu);
  sessions.erase(s);
}

Gateway::Gateway(GatewayOptions options, Service& service, MetricsRegistry& metrics,
                 const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), service, metrics, clock)) {}

Gateway::~Gateway() { Stop(); }

Result<std::string> Gateway::Start() {
  const GatewayOptions& o = impl_->options;
  if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
    auto tls = MakeServerTlsContext(o.tls_cert_file, o.tls_key_file);
    if (!tls.ok()) return tls.status();
    impl_->tls = std::move(*tls);
  }
  auto origins = OriginPolicy::Create(o.allowed_origins);
  if (!origins.ok()) return origins.status();
  impl_->origins = std::move(*origins);
  beast::error_code ec;
  auto address = net::ip::make_address(impl_->options.host, ec);
  if (ec) return BadRequest("invalid listen address: " + impl_->options.host);
  tcp::endpoint endpoint(address, impl_->options.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable("cannot listen on " + impl_->options.host + ":" +
                       std::to_string(impl_->options.port) + ": " + ec.message());
  }
  impl_->accepting = true;
  impl_->DoAccept();
  for (size_t i = 0; i < impl_->options.threads; ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  }
  auto bound = acceptor.local_endpoint();
  return bound.address().to_string() + ":" + std::to_string(bound.port());
}

void Gateway::StopAccepting() {
  if (!impl_->accepting.exchange(false)) return;
  net::post(impl_->acceptor.get_executor(), [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->accept_backoff.cancel();
  });
  std::vector<std::shared_ptr<WsSession>> open;
  {
    std::lock_guard lock(impl_->sessions_mu);
    for (WsSession* s : impl_->sessions) {
      if (auto p = s->weak_from_this().lock()) open.push_back(std::move(p));
    }
  }
  for (auto& s : open) s->Close(1001, "server shutting down");
  // Give the close handshakes a moment; sockets that don't answer are cut by Stop().
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard lock(impl_->sessions_mu);
      if (impl_->sessions.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void Gateway::Stop() {
  if (impl_->threads.empty()) return;
  StopAccepting();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace parley::gateway
