#include "protocol/server_frames.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace parley::protocol {
namespace json = boost::json;

std::string WithId(std::string frame, std::string_view id_json) {
  if (id_json.empty() || frame.size() < 2 || frame[0] != '{') return frame;
  std::string prefix = "{\"id\":";
  prefix.append(id_json);
  prefix += frame.size() > 2 ? "," : "";
  return prefix + frame.substr(1);
}

std::string ErrorFrame(std::string_view id_json, const Status& status) {
  json::object o{{"op", "error"},
                 {"code", CodeName(status.code())},
                 {"message", status.message()}};
  if (status.retry_after_ms() > 0) o["retry_after_ms"] = status.retry_after_ms();
  return WithId(json::serialize(o), id_json);
}

std::string ErrorBody(const Status& status) {
  json::object inner{{"code", CodeName(status.code())}, {"message", status.message()}};
  return json::serialize(json::object{{"error", std::move(inner)}});
}

std::string ReadyFrame(std::string_view user_id, std::string_view session_id,
                       std::string_view node, int64_t server_time) {
  return json::serialize(json::object{{"op", "ready"},
                                      {"user_id", user_id},
                                      {"session_id", session_id},
                                      {"node", node},
                                      {"server_time", server_time}});
}

std::string PongFrame(std::string_view id_json) {
  return WithId(R"({"op":"pong"})", id_json);
}

namespace {
json::object AckObject(const Ack& ack) {
  return json::object{{"client_msg_id", ack.client_msg_id},
                      {"conversation_id", ack.conversation_id},
                      {"message_id", std::to_string(ack.message_id)},
                      {"seq", ack.seq},
                      {"ts", ack.ts}};
}
}  // namespace

std::string AckBody(const Ack& ack) { return json::serialize(AckObject(ack)); }

std::string AckFrame(std::string_view id_json, const Ack& ack) {
  json::object o{{"op", "ack"}};
  for (auto& [k, v] : AckObject(ack)) o.emplace(k, v);
  return WithId(json::serialize(o), id_json);
}

}  // namespace parley::protocol
