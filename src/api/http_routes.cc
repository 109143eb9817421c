// HTTP routes of SPEC section 3 for accounts, messages and reading.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <charconv>
#include <fstream>
#include <sstream>

#include "api/api_service.h"
#include "protocol/json_util.h"
#include "protocol/server_frames.h"

namespace parley::api {
namespace json = boost::json;
namespace {

std::string JoinArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += items[i];
  }
  return out + "]";
}

// An unsigned query parameter; absent → fallback.
Result<uint64_t> QueryUint(const gateway::HttpRequest& r, std::string_view key, uint64_t fallback) {
  auto v = r.Query(key);
  if (!v || v->empty()) return fallback;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size()) {
    return BadRequest(std::string(key) + " must be a non-negative integer");
  }
  return n;
}

// Registered as a session in the directory while a long-poll waits: the first
// stored entry delivered to the user wakes it.
class LongPollWaiter final : public gateway::Peer {
 public:
  LongPollWaiter(std::string user, std::string session)
      : user_(std::move(user)), session_(std::move(session)) {}
  // Set before the waiter is registered anywhere.
  void SetWake(std::function<void()> wake) { wake_ = std::move(wake); }
  void Send(std::shared_ptr<const std::string>, uint64_t version) override {
    if (version != 0) Fire();
  }
  void Close(uint16_t, std::string) override { Fire(); }
  const std::string& user_id() const override { return user_; }
  const std::string& session_id() const override { return session_; }
  void Fire() {
    if (!fired_.exchange(true)) wake_();
  }
  bool fired() const { return fired_.load(); }

 private:
  std::string user_, session_;
  std::function<void()> wake_;
  std::atomic<bool> fired_{false};
};

std::atomic<uint64_t> next_poll_id{1};
constexpr int64_t kClusterLongPollRecheckMs = 1000;

}  // namespace

void ApiService::PostUsers(HttpCall call) {
  auth_pool_.Post([this, call = std::move(call)] {
    auto body = protocol::ParseObject(call.request.body);
    if (!body.ok()) return call.respond(ErrorResponse(body.status()));
    auto user = protocol::GetString(*body, "user_id", true, 64);
    auto password = protocol::GetString(*body, "password", true, 4096);
    auto name = protocol::GetString(*body, "display_name", false, 256);
    for (const Status* s : {&user.status(), &password.status(), &name.status()}) {
      if (!s->ok()) return call.respond(ErrorResponse(BadRequest(s->message())));
    }
    auto created = auth_.Register(*user, *password, *name, call.request.remote_address);
    if (!created.ok()) return call.respond(ErrorResponse(created.status()));
    call.respond(JsonResponse(201, json::serialize(json::object{{"user_id", *created}})));
  });
}

void ApiService::PostSessions(HttpCall call) {
  auth_pool_.Post([this, call = std::move(call)] {
    auto body = protocol::ParseObject(call.request.body);
    if (!body.ok()) return call.respond(ErrorResponse(body.status()));
    auto user = protocol::GetString(*body, "user_id", true, 64);
    auto password = protocol::GetString(*body, "password", true, 4096);
    auto device = protocol::GetString(*body, "device", false, 64);
    for (const Status* s : {&user.status(), &password.status(), &device.status()}) {
      if (!s->ok()) return call.respond(ErrorResponse(BadRequest(s->message())));
    }
    auto login = auth_.Login(*user, *password, *device, call.request.remote_address);
    if (!login.ok()) return call.respond(ErrorResponse(login.status()));
    call.respond(JsonResponse(200, json::serialize(json::object{{"token", login->token},
                                                                {"user_id", login->user_id},
                                                                {"expires_at", login->expires_at}})));
  });
}

void ApiService::DeleteSessions(HttpCall call) {
  auth_pool_.Post([this, call = std::move(call)] {
    Status s = auth_.Logout(call.request.bearer_token);
    if (!s.ok()) return call.respond(ErrorResponse(s));
    CloseSessionsOf(auth::AuthService::TokenKey(call.request.bearer_token));
    call.respond({204, "application/json", "", {}});
  });
}

void ApiService::PostMessages(HttpCall call) {
  if (Status s = AdmitAddressSend(call.request.remote_address); !s.ok()) {
    return call.respond(ErrorResponse(s));
  }
  auto frame = protocol::DecodeSendBody(call.request.body, options_.limits);
  if (!frame.ok()) return call.respond(ErrorResponse(frame.status()));
  chat::SendRequest request{call.user_id, std::move(frame).value(), ""};
  chat_.Send(std::move(request), [respond = call.respond](Result<protocol::Ack> ack) {
    if (!ack.ok()) return respond(ErrorResponse(ack.status()));
    respond(JsonResponse(201, protocol::AckBody(*ack)));
  });
}

void ApiService::GetConversations(HttpCall call) {
  chat_.ListConversations(call.user_id, [respond = call.respond](Result<std::string> list) {
    if (!list.ok()) return respond(ErrorResponse(list.status()));
    respond(JsonResponse(200, "{\"conversations\":" + *list + "}"));
  });
}

void ApiService::GetMessages(HttpCall call) {
  const auto& r = call.request;
  auto before = QueryUint(r, "before_seq", 0);
  std::optional<uint64_t> after_bound;
  auto after = QueryUint(r, "after_seq", 0);
  if (r.Query("after_seq")) after_bound = *after;
  auto limit = QueryUint(r, "limit", 50);
  for (const Status* s : {&before.status(), &after.status(), &limit.status()}) {
    if (!s->ok()) return call.respond(ErrorResponse(*s));
  }
  size_t clamped = std::clamp<uint64_t>(*limit, 1, options_.limits.max_history_limit);
  chat_.History(call.user_id, call.params.at("id"), *before, after_bound, clamped,
                [respond = call.respond](Result<std::vector<std::string>> page) {
                  if (!page.ok()) return respond(ErrorResponse(page.status()));
                  respond(JsonResponse(200, "{\"messages\":" + JoinArray(*page) + "}"));
                });
}

void ApiService::GetSync(HttpCall call) {
  auto timeout = QueryUint(call.request, "timeout", 0);
  if (!timeout.ok()) return call.respond(ErrorResponse(timeout.status()));
  if (*timeout > static_cast<uint64_t>(options_.max_long_poll_s)) {
    return call.respond(ErrorResponse(BadRequest("timeout is at most 60 seconds")));
  }
  std::string cursor = call.request.Query("cursor").value_or("");
  int64_t deadline = clock_.SteadyMs() + static_cast<int64_t>(*timeout) * 1000;
  LongPoll(std::make_shared<HttpCall>(std::move(call)), std::move(cursor), deadline);
}

void ApiService::LongPoll(std::shared_ptr<HttpCall> call, std::string cursor, int64_t deadline_ms) {
  chat_.Sync(call->user_id, cursor, [this, call, cursor, deadline_ms](Result<chat::SyncPage> page) {
    if (!page.ok()) return call->respond(ErrorResponse(page.status()));
    int64_t left = deadline_ms - clock_.SteadyMs();
    if (!page->frames.empty() || left <= 0) {
      std::string body = "{\"events\":" + JoinArray(page->frames) + ",\"cursor\":\"" +
                         chat::ChatService::FormatCursor(page->cursor) + "\",\"more\":" +
                         (page->more ? "true" : "false") + "}";
      return call->respond(JsonResponse(200, std::move(body)));
    }
    // Nothing yet: wait for a delivery to this user or the deadline, then sync again.
    std::string next = chat::ChatService::FormatCursor(page->cursor);
    auto waiter = std::make_shared<LongPollWaiter>(call->user_id,
                                                   "poll-" + std::to_string(next_poll_id++));
    std::string credential = auth::AuthService::TokenKey(call->request.bearer_token);
    waiter->SetWake([this, call, next, credential, weak = std::weak_ptr<LongPollWaiter>(waiter)] {
      if (auto w = weak.lock()) {
        directory_.Remove(*w);
        UnindexCredential(credential, w.get());
      }
      // Woken or timed out: answer with what there is, unless the token was revoked meanwhile.
      Authenticate(call->request.bearer_token, [this, call, next](Result<gateway::Identity> user) {
        if (!user.ok()) return call->respond(ErrorResponse(user.status()));
        LongPoll(call, next, 0);
      });
    });
    IndexCredential(credential, waiter);  // a logout wakes it, to answer 401
    directory_.Add(waiter);
    scheduler_.After(left, [waiter] { waiter->Fire(); });
    // A commit between the sync above and Add would not wake us: look once more.
    RecheckLongPoll(waiter, call->user_id, next);
  });
}

// Wakes the waiter if a sync from `cursor` finds something. In a cluster the
// waiter is no route for other nodes (it is not a presence session), so what
// they commit is found by looking again every second until it is answered.
void ApiService::RecheckLongPoll(std::shared_ptr<gateway::Peer> peer, std::string user,
                                 std::string cursor) {
  auto waiter = std::static_pointer_cast<LongPollWaiter>(peer);
  chat_.Sync(user, cursor, [this, waiter, user, cursor](Result<chat::SyncPage> again) {
    if (!again.ok() || !again->frames.empty()) return waiter->Fire();
    if (!directory_.clustered() || waiter->fired()) return;
    scheduler_.After(kClusterLongPollRecheckMs, [this, waiter, user, cursor] {
      if (!waiter->fired()) RecheckLongPoll(waiter, user, cursor);
    });
  });
}

void ApiService::GetStatic(HttpCall call) {
  std::string name = call.params.count("file") ? call.params.at("file") : "index.html";
  bool safe = !name.empty() && name.find("..") == std::string::npos &&
              name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
                  std::string::npos;
  if (!safe) return call.respond(ErrorResponse(NotFound("no such file")));
  chat_.RunBlocking([this, name, respond = call.respond] {
    std::ifstream in(options_.web_dir + "/" + name, std::ios::binary);
    if (!in) return respond(ErrorResponse(NotFound("no such file: " + name)));
    std::ostringstream data;
    data << in.rdbuf();
    std::string type = "application/octet-stream";
    auto ends = [&](std::string_view ext) { return name.ends_with(ext); };
    if (ends(".html")) type = "text/html; charset=utf-8";
    else if (ends(".js")) type = "text/javascript; charset=utf-8";
    else if (ends(".css")) type = "text/css; charset=utf-8";
    else if (ends(".svg")) type = "image/svg+xml";
    else if (ends(".png")) type = "image/png";
    else if (ends(".json")) type = "application/json";
    respond({200, type, data.str(), {{"Cache-Control", "no-cache"}}});
  });
}

}  // namespace parley::api
