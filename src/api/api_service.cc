#include "api/api_service.h"

#include <spdlog/spdlog.h>

#include "protocol/server_frames.h"

namespace parley::api {

gateway::HttpResponse JsonResponse(int status, std::string body) {
  return gateway::HttpResponse{status, "application/json", std::move(body), {}};
}

gateway::HttpResponse ErrorResponse(const Status& status) {
  auto r = JsonResponse(HttpStatus(status.code()), protocol::ErrorBody(status));
  if (auto seconds = gateway::RetryAfterSeconds(status)) {
    r.headers.emplace_back("Retry-After", std::to_string(*seconds));
  }
  if (status.code() == Code::kInternal) {
    spdlog::error("event=internal_error message=\"{}\"", status.message());
  }
  return r;
}

ApiService::ApiService(ApiDeps d, ApiOptions options)
    : auth_(d.auth),
      chat_(d.chat),
      groups_(d.groups),
      lifecycle_(d.lifecycle),
      receipts_(d.receipts),
      typing_(d.typing),
      relations_(d.relations),
      presence_(d.presence),
      directory_(d.directory),
      store_(d.store),
      metrics_(d.metrics),
      clock_(d.clock),
      scheduler_(d.scheduler),
      push_(d.push),
      media_(d.media),
      options_(std::move(options)),
      auth_pool_(options_.auth_threads, "api-auth"),
      http_requests_(d.metrics.AddCounter("parley_http_requests_total", "HTTP requests handled")),
      address_send_limiter_(d.clock, options_.abuse.address_send_rate,
                            options_.abuse.address_send_burst),
      upload_limiter_(RateLimiter::PerMinute(d.clock, options_.abuse.upload_rate_per_min)),
      address_upload_limiter_(
          RateLimiter::PerMinute(d.clock, options_.abuse.address_upload_rate_per_min)) {
  AddRoutes();
}

ApiService::~ApiService() { Shutdown(); }

void ApiService::Shutdown() { auth_pool_.Shutdown(); }

void ApiService::AddRoutes() {
  auto bind = [this](void (ApiService::*fn)(HttpCall)) {
    return [this, fn](HttpCall call) { (this->*fn)(std::move(call)); };
  };
  Public("POST", "/v1/users", bind(&ApiService::PostUsers));
  Public("POST", "/v1/sessions", bind(&ApiService::PostSessions));
  Authed("DELETE", "/v1/sessions", bind(&ApiService::DeleteSessions));
  Authed("POST", "/v1/messages", bind(&ApiService::PostMessages));
  Authed("GET", "/v1/conversations", bind(&ApiService::GetConversations));
  Authed("GET", "/v1/conversations/{id}/messages", bind(&ApiService::GetMessages));
  Authed("GET", "/v1/sync", bind(&ApiService::GetSync));
  Authed("POST", "/v1/groups", bind(&ApiService::PostGroups));
  Authed("GET", "/v1/groups/{id}", bind(&ApiService::GetGroup));
  Authed("PATCH", "/v1/groups/{id}", bind(&ApiService::PatchGroup));
  Authed("POST", "/v1/groups/{id}/members", bind(&ApiService::PostMember));
  Authed("PUT", "/v1/groups/{id}/members/{user}", bind(&ApiService::PutMemberRole));
  Authed("DELETE", "/v1/groups/{id}/members/{user}", bind(&ApiService::DeleteMember));
  Authed("POST", "/v1/conversations/{id}/receipts", bind(&ApiService::PostReceipts));
  for (std::string_view op : {"edit", "delete", "react"}) {
    Authed("POST", "/v1/messages/" + std::string(op),
           [this, op](HttpCall call) { PostMessageChange(std::move(call), op); });
  }
  Authed("PUT", "/v1/conversations/{id}/settings", bind(&ApiService::PutConversationSettings));
  Authed("GET", "/v1/presence", bind(&ApiService::GetPresence));
  Authed("GET", "/v1/me/blocks", bind(&ApiService::GetBlocks));
  Authed("PUT", "/v1/me/blocks/{user}", bind(&ApiService::PutBlock));
  Authed("DELETE", "/v1/me/blocks/{user}", bind(&ApiService::DeleteBlock));
  Authed("GET", "/v1/me/settings", bind(&ApiService::GetSettings));
  Authed("PUT", "/v1/me/settings", bind(&ApiService::PutSettings));
  Authed("POST", "/v1/devices", bind(&ApiService::PostDevice));
  Authed("GET", "/v1/devices", bind(&ApiService::GetDevices));
  Authed("DELETE", "/v1/devices/{id}", bind(&ApiService::DeleteDevice));
  Authed("GET", "/v1/conversations/{id}/settings", bind(&ApiService::GetConversationSettings));
  Authed("PUT", "/v1/conversations/{id}/settings", bind(&ApiService::PutConversationSettings));
  if (media_ != nullptr) {
    Authed("POST", "/v1/media", bind(&ApiService::PostMedia));
    streamed_routes_.Add("POST", "/v1/media", media_->max_bytes());
    Authed("GET", "/v1/media/{id}", [this](HttpCall c) { GetMediaFile(std::move(c), false); });
    Authed("GET", "/v1/media/{id}/thumbnail",
           [this](HttpCall c) { GetMediaFile(std::move(c), true); });
  }
  Public("GET", "/healthz", [](HttpCall c) { c.respond(JsonResponse(200, R"({"status":"ok"})")); });
  Public("GET", "/readyz", bind(&ApiService::GetReady));
  Public("GET", "/metrics", [this](HttpCall c) {
    c.respond({200, "text/plain; version=0.0.4", metrics_.Render(), {}});
  });
  // The WebSocket route answers plain GETs with a hint; upgrades never get here.
  Public("GET", "/v1/ws", [](HttpCall c) {
    c.respond(ErrorResponse(BadRequest("this route needs a WebSocket upgrade")));
  });
  Public("GET", "/", bind(&ApiService::GetStatic));
  Public("GET", "/{file}", bind(&ApiService::GetStatic));
  Public("GET", "/web/{file}", bind(&ApiService::GetStatic));
}

void ApiService::Public(std::string method, std::string_view pattern, Handler h) {
  router_.Add(std::move(method), pattern, std::move(h));
}

void ApiService::Authed(std::string method, std::string_view pattern, Handler h) {
  router_.Add(std::move(method), pattern, [this, h = std::move(h)](HttpCall call) {
    std::string token = call.request.bearer_token;
    Authenticate(token, [h, call = std::move(call)](Result<gateway::Identity> user) mutable {
      if (!user.ok()) return call.respond(ErrorResponse(user.status()));
      call.user_id = std::move(user->user_id);
      h(std::move(call));
    });
  });
}

void ApiService::HandleHttp(gateway::HttpRequest request, gateway::HttpResponder respond) {
  http_requests_.Inc();
  auto match = router_.Find(request.method, request.path);
  if (!match.handler) {
    if (match.method_not_allowed) {
      auto r = ErrorResponse(BadRequest("method " + request.method + " is not allowed here"));
      r.status = 405;
      return respond(std::move(r));
    }
    return respond(ErrorResponse(NotFound("no such route: " + request.path)));
  }
  (*match.handler)(HttpCall{std::move(request), std::move(match.params), std::move(respond), ""});
}

std::optional<uint64_t> ApiService::StreamedBodyLimit(const gateway::HttpRequest& head) {
  auto match = streamed_routes_.Find(head.method, head.path);
  if (match.handler == nullptr) return std::nullopt;
  return *match.handler;
}

void ApiService::Authenticate(std::string token,
                              std::function<void(Result<gateway::Identity>)> done) {
  if (token.empty()) return done(Unauthorized("missing bearer token"));
  auth_pool_.Post([this, token = std::move(token), done = std::move(done)] {
    auto user = auth_.Authenticate(token);
    if (!user.ok()) return done(user.status());
    done(gateway::Identity{std::move(*user), auth::AuthService::TokenKey(token)});
  });
}

void ApiService::CloseSessionsOf(const std::string& credential) {
  std::vector<std::shared_ptr<gateway::Peer>> revoked;
  {
    std::lock_guard lock(sessions_mu_);
    auto [first, last] = by_credential_.equal_range(credential);
    for (auto it = first; it != last; ++it) {
      if (auto peer = it->second.lock()) revoked.push_back(std::move(peer));
    }
  }
  for (const auto& peer : revoked) peer->Close(1008, "token revoked");
}

void ApiService::IndexCredential(const std::string& credential,
                                 const std::shared_ptr<gateway::Peer>& peer) {
  std::lock_guard lock(sessions_mu_);
  by_credential_.emplace(credential, peer);
}

void ApiService::UnindexCredential(const std::string& credential, const gateway::Peer* peer) {
  std::lock_guard lock(sessions_mu_);
  auto [first, last] = by_credential_.equal_range(credential);
  for (auto it = first; it != last;) {
    auto indexed = it->second.lock();
    it = !indexed || indexed.get() == peer ? by_credential_.erase(it) : std::next(it);
  }
}

Status ApiService::AdmitAddressSend(std::string_view address) {
  return address_send_limiter_.Admit(address, "too many messages from this address; slow down");
}

void ApiService::GetReady(HttpCall call) {
  chat_.RunBlocking([this, call = std::move(call)] {
    Status s = store_.Ping();
    if (!s.ok()) return call.respond(ErrorResponse(Unavailable("store: " + s.message())));
    if (s = presence_.Ping(); !s.ok()) {
      return call.respond(ErrorResponse(Unavailable("presence: " + s.message())));
    }
    call.respond(JsonResponse(200, R"({"status":"ready"})"));
  });
}

}  // namespace parley::api
