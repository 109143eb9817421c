// HTTP routes of push notifications: the device registry and the caller's
// per-conversation settings (`muted`).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/api_service.h"
#include "protocol/json_util.h"

namespace parley::api {
namespace json = boost::json;

void ApiService::PostDevice(HttpCall call) {
  chat_.RunBlocking([this, call = std::move(call)] {  // may resolve a webhook host (DNS)
    auto device = push_.RegisterDevice(call.user_id, call.request.body);
    if (!device.ok()) return call.respond(ErrorResponse(device.status()));
    call.respond(JsonResponse(201, push::DeviceJson(*device)));
  });
}

void ApiService::GetDevices(HttpCall call) {
  chat_.RunBlocking([this, call = std::move(call)] {
    auto devices = push_.ListDevices(call.user_id);
    if (!devices.ok()) return call.respond(ErrorResponse(devices.status()));
    json::array out;
    for (const auto& d : *devices) out.push_back(json::parse(push::DeviceJson(d)));
    call.respond(JsonResponse(200, json::serialize(json::object{{"devices", std::move(out)}})));
  });
}

void ApiService::DeleteDevice(HttpCall call) {
  chat_.RunBlocking([this, call = std::move(call)] {
    Status s = push_.DeleteDevice(call.user_id, call.params.at("id"));
    if (s.code() == Code::kNotFound) s = NotFound("no such device");  // another user's: the same
    call.respond(s.ok() ? gateway::HttpResponse{204, "application/json", "", {}}
                        : ErrorResponse(s));
  });
}

namespace {

// Settings are the caller's own; only a current member has them.
Status CheckSettingsAccess(store::Store& store, const std::string& user_id,
                           const std::string& conversation_id) {
  auto member = store.GetMember(conversation_id, user_id);
  if (member.ok() && member->current()) return Status::Ok();
  if (member.ok() || member.status().code() == Code::kNotFound) {
    return Forbidden("not a member of this conversation");
  }
  return member.status();
}

// `muted`: no push notifications for this conversation (push/).
Result<std::optional<bool>> ParseMutedSetting(const json::object& body) {
  return protocol::GetBool(body, "muted");
}

Status AddMutedSetting(push::PushService& push, const std::string& user_id,
                       const std::string& conversation_id, json::object& out) {
  auto muted = push.IsMuted(user_id, conversation_id);
  if (!muted.ok()) return muted.status();
  out["muted"] = *muted;
  return Status::Ok();
}

}  // namespace

void ApiService::RespondConversationSettings(const HttpCall& call) {
  const std::string& conversation_id = call.params.at("id");
  json::object out{{"conversation_id", conversation_id}};
  if (Status s = AddMutedSetting(push_, call.user_id, conversation_id, out); !s.ok()) {
    return call.respond(ErrorResponse(s));
  }
  call.respond(JsonResponse(200, json::serialize(out)));
}

void ApiService::GetConversationSettings(HttpCall call) {
  chat_.RunBlocking([this, call = std::move(call)] {
    Status s = CheckSettingsAccess(store_, call.user_id, call.params.at("id"));
    if (!s.ok()) return call.respond(ErrorResponse(s));
    RespondConversationSettings(call);
  });
}

void ApiService::PutConversationSettings(HttpCall call) {
  auto body = protocol::ParseObject(call.request.body);
  if (!body.ok()) return call.respond(ErrorResponse(body.status()));
  auto muted = ParseMutedSetting(*body);
  if (!muted.ok()) return call.respond(ErrorResponse(muted.status()));
  if (!muted->has_value()) {
    return call.respond(ErrorResponse(BadRequest("no setting given: muted (true or false)")));
  }
  chat_.RunBlocking([this, call = std::move(call), muted = **muted] {
    const std::string& conversation_id = call.params.at("id");
    Status s = CheckSettingsAccess(store_, call.user_id, conversation_id);
    if (s.ok()) s = push_.SetMuted(call.user_id, conversation_id, muted);
    if (!s.ok()) return call.respond(ErrorResponse(s));
    RespondConversationSettings(call);
  });
}

}  // namespace parley::api
