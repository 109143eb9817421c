// HTTP routes for groups and channels (SPEC sections 3 and 6).
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "api/api_service.h"
#include "protocol/json_util.h"

namespace parley::api {
namespace json = boost::json;
namespace {

// The answer to a membership change: the event's seq (0: nothing changed).
std::function<void(Result<chat::MemberChangeResult>)> ChangeReply(gateway::HttpResponder respond) {
  return [respond = std::move(respond)](Result<chat::MemberChangeResult> r) {
    if (!r.ok()) return respond(ErrorResponse(r.status()));
    respond(JsonResponse(200, json::serialize(json::object{
                                  {"conversation_id", r->conversation_id}, {"seq", r->seq}})));
  };
}

}  // namespace

void ApiService::PostGroups(HttpCall call) {
  auto body = protocol::ParseObject(call.request.body);
  if (!body.ok()) return call.respond(ErrorResponse(body.status()));
  chat::CreateGroupRequest req;
  req.creator = call.user_id;
  std::string kind;
  Status s = MoveInto(req.name, protocol::GetString(*body, "name", true, 1024));
  if (s.ok()) s = MoveInto(kind, protocol::GetString(*body, "kind", false, 16, "group"));
  if (!s.ok()) return call.respond(ErrorResponse(s));
  if (kind != "group" && kind != "channel") {
    return call.respond(ErrorResponse(BadRequest("kind must be group or channel")));
  }
  req.kind = *store::ParseKind(kind);
  const json::value* members = body->if_contains("members");
  if (members && !members->is_null()) {
    if (!members->is_array()) {
      return call.respond(ErrorResponse(BadRequest("members must be an array of user ids")));
    }
    for (const json::value& m : members->get_array()) {
      if (!m.is_string()) {
        return call.respond(ErrorResponse(BadRequest("members must be an array of user ids")));
      }
      req.members.emplace_back(m.get_string());
    }
  }
  groups_.Create(std::move(req), [respond = call.respond](Result<std::string> id) {
    if (!id.ok()) return respond(ErrorResponse(id.status()));
    respond(JsonResponse(201, json::serialize(json::object{{"conversation_id", *id}})));
  });
}

void ApiService::GetGroup(HttpCall call) {
  std::string after = call.request.Query("after").value_or("");
  auto limit = call.request.Query("limit");
  size_t page = 200;
  if (limit) {
    try {
      page = std::clamp<size_t>(std::stoul(*limit), 1, 1000);
    } catch (const std::exception&) {
      return call.respond(ErrorResponse(BadRequest("limit must be a number")));
    }
  }
  groups_.Describe(call.user_id, call.params.at("id"), after, page,
                   [respond = call.respond](Result<std::string> r) {
                     if (!r.ok()) return respond(ErrorResponse(r.status()));
                     respond(JsonResponse(200, *r));
                   });
}

void ApiService::PatchGroup(HttpCall call) {
  auto body = protocol::ParseObject(call.request.body);
  if (!body.ok()) return call.respond(ErrorResponse(body.status()));
  std::optional<std::string> name, posting;
  std::string value;
  if (body->contains("name")) {
    if (Status s = MoveInto(value, protocol::GetString(*body, "name", true, 1024)); !s.ok()) {
      return call.respond(ErrorResponse(s));
    }
    name = value;
  }
  if (body->contains("posting")) {
    if (Status s = MoveInto(value, protocol::GetString(*body, "posting", true, 16)); !s.ok()) {
      return call.respond(ErrorResponse(s));
    }
    posting = value;
  }
  groups_.Update(call.user_id, call.params.at("id"), name, posting, ChangeReply(call.respond));
}

void ApiService::PutMemberRole(HttpCall call) {
  auto body = protocol::ParseObject(call.request.body);
  if (!body.ok()) return call.respond(ErrorResponse(body.status()));
  auto role_name = protocol::GetString(*body, "role", true, 16);
  if (!role_name.ok()) return call.respond(ErrorResponse(role_name.status()));
  auto role = store::ParseRole(*role_name);
  if (!role) return call.respond(ErrorResponse(BadRequest("role must be admin or member")));
  groups_.SetRole(call.user_id, call.params.at("id"), call.params.at("user"), *role,
                  ChangeReply(call.respond));
}

void ApiService::PostMember(HttpCall call) {
  auto body = protocol::ParseObject(call.request.body);
  if (!body.ok()) return call.respond(ErrorResponse(body.status()));
  auto user = protocol::GetString(*body, "user_id", true, 64);
  if (!user.ok()) return call.respond(ErrorResponse(user.status()));
  groups_.AddMember(call.user_id, call.params.at("id"), *user, ChangeReply(call.respond));
}

void ApiService::DeleteMember(HttpCall call) {
  groups_.RemoveMember(call.user_id, call.params.at("id"), call.params.at("user"),
                       ChangeReply(call.respond));
}

}  // namespace parley::api
