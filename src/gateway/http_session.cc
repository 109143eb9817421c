#include <boost/url/parse.hpp>

#include <spdlog/spdlog.h>

#include "gateway/internal.h"
#include "protocol/server_frames.h"

namespace parley::gateway {
namespace {

std::string BearerToken(const http::request<http::string_body>& req) {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return "";
  std::string_view v = it->value();
  constexpr std::string_view kPrefix = "Bearer ";
  if (v.size() <= kPrefix.size() || !beast::iequals(v.substr(0, kPrefix.size()), kPrefix)) return "";
  return std::string(v.substr(kPrefix.size()));
}

// Fills method, path, query, headers and body; BadRequest on an unparsable target.
Status ToHttpRequest(http::request<http::string_body>& req, HttpRequest& out) {
  auto url = boost::urls::parse_origin_form(req.target());
  if (!url) return BadRequest("malformed request target");
  out.method = std::string(req.method_string());
  out.path = url->path();
  for (auto param : url->params()) out.query.emplace_back(param.key, param.value);
  out.bearer_token = BearerToken(req);
  out.content_type = std::string(req[http::field::content_type]);
  out.body = std::move(req.body());
  return Status::Ok();
}

}  // namespace

HttpSession::HttpSession(tcp::socket socket, Gateway::Impl& gw)
    : stream_(std::move(socket)), gw_(gw) {
  gw_.http_connections.Add(1);
}

HttpSession::~HttpSession() { gw_.http_connections.Add(-1); }

void HttpSession::Start() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->DoRead(); });
}

void HttpSession::DoRead() {
  parser_.emplace();
  parser_->body_limit(gw_.options.max_http_body_bytes);
  parser_->header_limit(static_cast<uint32_t>(gw_.options.max_header_bytes));
  stream_.expires_after(std::chrono::seconds(gw_.options.http_timeout_s));
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
}

void HttpSession::OnRead(beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
      ec == net::error::connection_reset || ec == net::error::operation_aborted) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    return;
  }
  if (ec == http::error::body_limit) return RespondError(TooLarge("request body is too large"), false);
  if (ec == http::error::header_limit) return RespondError(TooLarge("request headers are too large"), false);
  if (ec) return RespondError(BadRequest("malformed HTTP request: " + ec.message()), false);

  http::request<http::string_body> req = parser_->release();
  if (websocket::is_upgrade(req)) return Upgrade(std::move(req));

  const bool keep_alive = req.keep_alive();
  HttpRequest request;
  if (Status s = ToHttpRequest(req, request); !s.ok()) return RespondError(s, false);
  beast::error_code addr_ec;
  request.remote_address = stream_.socket().remote_endpoint(addr_ec).address().to_string();
  stream_.expires_never();  // the service may take a while (long-poll)
  gw_.service.HandleHttp(std::move(request), [self = shared_from_this(), keep_alive](HttpResponse r) {
    net::post(self->stream_.get_executor(), [self, keep_alive, r = std::move(r)]() mutable {
      self->Respond(std::move(r), keep_alive);
    });
  });
}

void HttpSession::Upgrade(http::request<http::string_body> req) {
  HttpRequest request;
  if (Status s = ToHttpRequest(req, request); !s.ok()) return RespondError(s, false);
  if (request.path != "/v1/ws") return RespondError(NotFound("no WebSocket endpoint here"), false);
  std::string token = request.bearer_token;
  if (token.empty()) token = request.Query("token").value_or("");
  if (token.empty()) {  // authenticate by the first frame instead
    std::make_shared<WsSession>(std::move(stream_), gw_, "")->Accept(std::move(req));
    return;
  }
  auto shared_req = std::make_shared<http::request<http::string_body>>(std::move(req));
  gw_.service.Authenticate(token, [self = shared_from_this(), shared_req](Result<std::string> user) {
    net::post(self->stream_.get_executor(), [self, shared_req, user = std::move(user)]() {
      if (!user.ok()) return self->RespondError(user.status(), false);
      std::make_shared<WsSession>(std::move(self->stream_), self->gw_, *user)
          ->Accept(std::move(*shared_req));
    });
  });
}

void HttpSession::RespondError(const Status& status, bool keep_alive) {
  Respond(HttpResponse{HttpStatus(status.code()), "application/json", protocol::ErrorBody(status), {}},
          keep_alive);
}

void HttpSession::Respond(HttpResponse r, bool keep_alive) {
  auto res = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(r.status), 11);
  res->set(http::field::server, "parley");
  res->set(http::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers) res->set(k, v);
  res->keep_alive(keep_alive);
  res->body() = std::move(r.body);
  res->prepare_payload();
  stream_.expires_after(std::chrono::seconds(gw_.options.http_timeout_s));
  http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
    if (ec || !res->keep_alive()) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    self->DoRead();
  });
}

}  // namespace parley::gateway
