// The message lifecycle over WebSocket (edit, delete, react frames) and HTTP
// (POST /v1/messages/{edit,delete,react}: the frame without "op", answered
// with the ack object). The disappear_after_s setting is in conversation_settings.cc.
#include "api/api_service.h"
#include "protocol/server_frames.h"

namespace parley::api {

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
  if (Status s = AdmitAddressSend(call.request.remote_address); !s.ok()) {
    return call.respond(ErrorResponse(s));
  }
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

}  // namespace parley::api
