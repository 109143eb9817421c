// GET/PUT /v1/conversations/{id}/settings: the caller's `muted` (push/) and
// the conversation's `disappear_after_s` (chat/lifecycle), each parsed,
// applied and reported by its own function.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "api/api_service.h"
#include "protocol/json_util.h"

namespace parley::api {
namespace json = boost::json;
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

// `disappear_after_s`: the conversation's disappearing-messages timer (chat/lifecycle).
Result<std::optional<int64_t>> ParseDisappearSetting(const json::object& body) {
  if (!body.contains("disappear_after_s")) return std::optional<int64_t>();
  auto seconds = protocol::GetUint(body, "disappear_after_s", true);  // at most 2^53
  if (!seconds.ok()) return seconds.status();
  return std::optional<int64_t>(static_cast<int64_t>(*seconds));
}

Status AddDisappearSetting(store::Store& store, const std::string& conversation_id,
                           json::object& out) {
  auto conversation = store.GetConversation(conversation_id);
  if (!conversation.ok()) return conversation.status();
  out["disappear_after_s"] = conversation->disappear_after_s;
  return Status::Ok();
}

}  // namespace

void ApiService::RespondConversationSettings(const HttpCall& call, uint64_t seq) {
  const std::string& conversation_id = call.params.at("id");
  json::object out{{"conversation_id", conversation_id}};
  Status s = AddMutedSetting(push_, call.user_id, conversation_id, out);
  if (s.ok()) s = AddDisappearSetting(store_, conversation_id, out);
  if (!s.ok()) return call.respond(ErrorResponse(s));
  if (seq != 0) out["seq"] = seq;  // the settings_changed event this request appended
  call.respond(JsonResponse(200, json::serialize(out)));
}

void ApiService::GetConversationSettings(HttpCall call) {
  chat_.RunBlocking([this, call = std::move(call)] {
    Status s = CheckSettingsAccess(store_, call.user_id, call.params.at("id"));
    if (!s.ok()) return call.respond(ErrorResponse(s));
    RespondConversationSettings(call);
  });
}

// The timer first: it may be refused (admins only in groups) before anything changed.
void ApiService::PutConversationSettings(HttpCall call) {
  auto body = protocol::ParseObject(call.request.body);
  if (!body.ok()) return call.respond(ErrorResponse(body.status()));
  auto muted = ParseMutedSetting(*body);
  if (!muted.ok()) return call.respond(ErrorResponse(muted.status()));
  auto disappear = ParseDisappearSetting(*body);
  if (!disappear.ok()) return call.respond(ErrorResponse(disappear.status()));
  if (!muted->has_value() && !disappear->has_value()) {
    return call.respond(ErrorResponse(
        BadRequest("no setting given: muted (true or false) or disappear_after_s (seconds)")));
  }
  auto apply_muted = [this, muted = *muted](HttpCall call, uint64_t seq) {
    chat_.RunBlocking([this, call = std::move(call), muted, seq] {
      const std::string& conversation_id = call.params.at("id");
      Status s = CheckSettingsAccess(store_, call.user_id, conversation_id);
      if (s.ok() && muted) s = push_.SetMuted(call.user_id, conversation_id, *muted);
      if (!s.ok()) return call.respond(ErrorResponse(s));
      RespondConversationSettings(call, seq);
    });
  };
  if (!disappear->has_value()) return apply_muted(std::move(call), 0);
  SetDisappearAfter(std::move(call), **disappear, std::move(apply_muted));
}

void ApiService::SetDisappearAfter(HttpCall call, int64_t seconds,
                                   std::function<void(HttpCall call, uint64_t seq)> then) {
  auto shared = std::make_shared<HttpCall>(std::move(call));
  lifecycle_.SetDisappearAfter(shared->user_id, shared->params.at("id"), seconds,
                               [shared, then = std::move(then)](Result<chat::SettingsResult> r) {
                                 if (!r.ok()) return shared->respond(ErrorResponse(r.status()));
                                 then(std::move(*shared), r->seq);
                               });
}

}  // namespace parley::api
