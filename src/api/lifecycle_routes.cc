// The message lifecycle over WebSocket (edit, delete, react frames) and HTTP
// (POST /v1/messages/{edit,delete,react}: the frame without "op", answered
// with the ack object), and PUT /v1/conversations/{id}/settings.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "api/api_service.h"
#include "protocol/json_util.h"
#include "protocol/server_frames.h"

namespace parley::api {
namespace json = boost::json;

void ApiService::OnLifecycle(const std::shared_ptr<ClientSession>& s, std::string id,
                             protocol::EditFrame f) {
  lifecycle_.Edit(s->user_id(), std::move(f), s->session_id(), AckTo(s, std::move(id)));
}

void ApiService::OnLifecycle(const std::shared_ptr<ClientSession>& s, std::string id,
                             protocol::DeleteFrame f) {
  lifecycle_.Delete(s->user_id(), std::move(f), s->session_id(), AckTo(s, std::move(id)));
}

void ApiService::OnLifecycle(const std::shared_ptr<ClientSession>& s, std::string id,
                             protocol::ReactFrame f) {
  lifecycle_.React(s->user_id(), std::move(f), s->session_id(), AckTo(s, std::move(id)));
}

void ApiService::PostMessageChange(HttpCall call, std::string_view op) {
  auto body = protocol::DecodeBodyAs(op, call.request.body, options_.limits);
  if (!body.ok()) return call.respond(ErrorResponse(body.status()));
  chat::AckCallback reply = [respond = call.respond](Result<protocol::Ack> ack) {
    if (!ack.ok()) return respond(ErrorResponse(ack.status()));
    respond(JsonResponse(200, protocol::AckBody(*ack)));
  };
  std::visit(
      [&](auto&& frame) {
        using T = std::decay_t<decltype(frame)>;
        if constexpr (std::is_same_v<T, protocol::EditFrame>) {
          lifecycle_.Edit(call.user_id, std::move(frame), "", std::move(reply));
        } else if constexpr (std::is_same_v<T, protocol::DeleteFrame>) {
          lifecycle_.Delete(call.user_id, std::move(frame), "", std::move(reply));
        } else if constexpr (std::is_same_v<T, protocol::ReactFrame>) {
          lifecycle_.React(call.user_id, std::move(frame), "", std::move(reply));
        } else {
          reply(Internal("route decoded an unexpected frame"));  // routes name only the three
        }
      },
      std::move(*body));
}

// Each setting has its own handler below, so settings can be added side by side.
void ApiService::PutConversationSettings(HttpCall call) {
  auto body = protocol::ParseObject(call.request.body);
  if (!body.ok()) return call.respond(ErrorResponse(body.status()));
  if (!body->contains("disappear_after_s")) {
    return call.respond(ErrorResponse(BadRequest("nothing to change: give disappear_after_s")));
  }
  uint64_t seconds = 0;
  if (Status s = MoveInto(seconds, protocol::GetUint(*body, "disappear_after_s", true)); !s.ok()) {
    return call.respond(ErrorResponse(s));
  }
  PutDisappearAfter(std::move(call), static_cast<int64_t>(seconds));  // GetUint caps at 2^53
}

void ApiService::PutDisappearAfter(HttpCall call, int64_t seconds) {
  lifecycle_.SetDisappearAfter(
      call.user_id, call.params.at("id"), seconds,
      [respond = call.respond](Result<chat::SettingsResult> r) {
        if (!r.ok()) return respond(ErrorResponse(r.status()));
        respond(JsonResponse(
            200, json::serialize(json::object{{"conversation_id", r->conversation_id},
                                              {"disappear_after_s", r->disappear_after_s},
                                              {"seq", r->seq}})));
      });
}

}  // namespace parley::api
