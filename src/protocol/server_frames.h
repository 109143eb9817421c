// Server → client frames that do not carry stored entries, and the HTTP error
// body. Each returns the serialized JSON text, ready to send.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace parley::protocol {

// {"op":"error","id"?,"code","message","retry_after_ms"?} (retry_after_ms: rate_limited, unavailable)
std::string ErrorFrame(std::string_view id_json, const Status& status);
// {"error":{"code","message"}}
std::string ErrorBody(const Status& status);
// {"op":"ready","user_id","session_id","node","server_time"}
std::string ReadyFrame(std::string_view user_id, std::string_view session_id,
                       std::string_view node, int64_t server_time);
// {"op":"pong","id"?}
std::string PongFrame(std::string_view id_json);

struct Ack {
  std::string client_msg_id;
  std::string conversation_id;
  uint64_t message_id = 0;
  uint64_t seq = 0;
  int64_t ts = 0;
};
// {"client_msg_id","conversation_id","message_id","seq","ts"} (the HTTP 201 body)
std::string AckBody(const Ack& ack);
// The same object with "op":"ack" and the echoed id.
std::string AckFrame(std::string_view id_json, const Ack& ack);

// Inserts `"id":<id_json>,` after the opening brace of a serialized object.
std::string WithId(std::string frame, std::string_view id_json);

}  // namespace parley::protocol
