// HTTP routes for receipts, presence, blocks and the caller's settings.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/api_service.h"
#include "common/ids.h"
#include "protocol/json_util.h"

namespace parley::api {
namespace json = boost::json;

void ApiService::PostReceipts(HttpCall call) {
  auto body = protocol::ParseObject(call.request.body);
  if (!body.ok()) return call.respond(ErrorResponse(body.status()));
  std::string kind;
  uint64_t up_to = 0;
  Status s = MoveInto(kind, protocol::GetString(*body, "kind", true, 16));
  if (s.ok()) s = MoveInto(up_to, protocol::GetUint(*body, "up_to_seq", true));
  if (s.ok() && kind != "delivered" && kind != "read") s = BadRequest("kind must be delivered or read");
  if (!s.ok()) return call.respond(ErrorResponse(s));
  chat_.RunBlocking([this, call = std::move(call), kind, up_to] {
    Status st = receipts_.Record(call.user_id, call.params.at("id"), kind, up_to);
    if (!st.ok()) return call.respond(ErrorResponse(st));
    call.respond({204, "application/json", "", {}});
  });
}

void ApiService::GetPresence(HttpCall call) {
  std::string list = call.request.Query("users").value_or("");
  std::vector<std::string> users;
  for (size_t start = 0; start < list.size();) {
    size_t comma = std::min(list.find(',', start), list.size());
    if (comma > start) users.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  if (users.empty()) return call.respond(ErrorResponse(BadRequest("users is required: users=a,b")));
  if (users.size() > options_.max_presence_subscriptions) {
    return call.respond(ErrorResponse(TooLarge("too many users in one request")));
  }
  chat_.RunBlocking([this, call = std::move(call), users = std::move(users)] {
    auto states = VisiblePresence(call.user_id, users);
    if (!states.ok()) return call.respond(ErrorResponse(states.status()));
    json::array out;
    for (const auto& st : *states) out.push_back(json::parse(presence::PresenceFrame(st)));
    for (auto& v : out) v.as_object().erase("op");
    call.respond(JsonResponse(200, json::serialize(json::object{{"users", std::move(out)}})));
  });
}

void ApiService::PutBlock(HttpCall call) {
  chat_.RunBlocking([this, call = std::move(call)] {
    auto target = NormalizeUserId(call.params.at("user"));
    if (!target.ok() || !store_.GetUser(*target).ok()) {
      return call.respond(ErrorResponse(NotFound("no such user")));
    }
    if (*target == call.user_id) return call.respond(ErrorResponse(BadRequest("cannot block yourself")));
    Status s = relations_.SetBlocked(call.user_id, *target, true);
    call.respond(s.ok() ? gateway::HttpResponse{204, "application/json", "", {}} : ErrorResponse(s));
  });
}

void ApiService::DeleteBlock(HttpCall call) {
  chat_.RunBlocking([this, call = std::move(call)] {
    auto target = NormalizeUserId(call.params.at("user"));
    if (!target.ok()) return call.respond(ErrorResponse(NotFound("no such user")));
    Status s = relations_.SetBlocked(call.user_id, *target, false);
    call.respond(s.ok() ? gateway::HttpResponse{204, "application/json", "", {}} : ErrorResponse(s));
  });
}

void ApiService::GetBlocks(HttpCall call) {
  chat_.RunBlocking([this, call = std::move(call)] {
    auto list = relations_.ListBlocked(call.user_id);
    if (!list.ok()) return call.respond(ErrorResponse(list.status()));
    json::array users;
    for (const auto& u : *list) users.emplace_back(u);
    call.respond(JsonResponse(200, json::serialize(json::object{{"users", std::move(users)}})));
  });
}

void ApiService::GetSettings(HttpCall call) {
  chat_.RunBlocking([this, call = std::move(call)] {
    auto user = store_.GetUser(call.user_id);
    if (!user.ok()) return call.respond(ErrorResponse(user.status()));
    call.respond(JsonResponse(200, json::serialize(json::object{
                                       {"show_last_seen", user->show_last_seen},
                                       {"display_name", user->display_name}})));
  });
}

void ApiService::PutSettings(HttpCall call) {
  auto body = protocol::ParseObject(call.request.body);
  if (!body.ok()) return call.respond(ErrorResponse(body.status()));
  auto show = protocol::GetBool(*body, "show_last_seen");
  if (!show.ok()) return call.respond(ErrorResponse(show.status()));
  auto name = protocol::GetString(*body, "display_name", false, 64);
  if (!name.ok()) return call.respond(ErrorResponse(name.status()));
  chat_.RunBlocking([this, call = std::move(call), show = *show, name = *name] {
    auto user = store_.GetUser(call.user_id);
    if (!user.ok()) return call.respond(ErrorResponse(user.status()));
    if (show) user->show_last_seen = *show;
    if (!name.empty()) user->display_name = name;
    Status s = store_.UpdateUser(*user);
    if (!s.ok()) return call.respond(ErrorResponse(s));
    call.respond(JsonResponse(200, json::serialize(json::object{
                                       {"show_last_seen", user->show_last_seen},
                                       {"display_name", user->display_name}})));
  });
}

}  // namespace parley::api
