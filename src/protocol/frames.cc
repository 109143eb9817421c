#include "protocol/frames.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cstdint>

#include "common/ids.h"
#include "protocol/json_util.h"

namespace parley::protocol {
namespace json = boost::json;
namespace {

constexpr size_t kMaxIdLen = 80;         // conversation, media and message ids
constexpr size_t kMaxTypeLen = 32;
constexpr size_t kMaxTokenLen = 512;

bool IsMediaType(std::string_view type) {
  return type == "image" || type == "file" || type == "audio" || type == "video";
}

// Content bounds are too_large (413), unlike malformed fields (400).
Status CheckSize(std::string_view key, const std::string& value, size_t max_bytes) {
  if (value.size() <= max_bytes) return Status::Ok();
  return TooLarge(std::string(key) + " is longer than " + std::to_string(max_bytes) + " bytes");
}

Result<ClientFrameBody> DecodeSend(const json::object& o, const Limits& limits) {
  SendFrame f;
  PARLEY_RETURN_IF_ERROR(MoveInto(f.to, GetString(o, "to", false, 64)));
  PARLEY_RETURN_IF_ERROR(MoveInto(f.conversation_id, GetString(o, "conversation_id", false, kMaxIdLen)));
  PARLEY_RETURN_IF_ERROR(MoveInto(f.content, GetString(o, "content", false, SIZE_MAX)));
  PARLEY_RETURN_IF_ERROR(CheckSize("content", f.content, limits.max_text_bytes));
  PARLEY_RETURN_IF_ERROR(MoveInto(f.type, GetString(o, "type", false, kMaxTypeLen, "text")));
  PARLEY_RETURN_IF_ERROR(
      MoveInto(f.client_msg_id, GetString(o, "client_msg_id", true, limits.max_client_msg_id)));
  PARLEY_RETURN_IF_ERROR(MoveInto(f.media_id, GetString(o, "media_id", false, kMaxIdLen)));
  PARLEY_RETURN_IF_ERROR(MoveInto(f.reply_to, GetString(o, "reply_to", false, kMaxIdLen)));
  if (f.client_msg_id.empty()) return BadRequest("client_msg_id must be 1-64 characters");
  if (f.to.empty() == f.conversation_id.empty()) {
    return BadRequest("exactly one of to and conversation_id is required");
  }
  if (f.type.empty()) return BadRequest("type must not be empty");
  if (f.media_id.empty() && IsMediaType(f.type)) {
    return BadRequest("a message of type " + f.type + " needs a media_id");
  }
  if (f.content.empty() && f.media_id.empty()) return BadRequest("content is required");
  return ClientFrameBody(std::move(f));
}

Result<ClientFrameBody> DecodeHistory(const json::object& o, const Limits& limits) {
  HistoryFrame f;
  PARLEY_RETURN_IF_ERROR(MoveInto(f.conversation_id, GetString(o, "conversation_id", true, kMaxIdLen)));
  PARLEY_RETURN_IF_ERROR(MoveInto(f.before_seq, GetUint(o, "before_seq", false)));
  if (o.contains("after_seq")) {
    uint64_t after = 0;
    PARLEY_RETURN_IF_ERROR(MoveInto(after, GetUint(o, "after_seq", true)));
    f.after_seq = after;
  }
  uint64_t limit = 0;
  PARLEY_RETURN_IF_ERROR(MoveInto(limit, GetUint(o, "limit", false, 50)));
  f.limit = std::clamp<uint64_t>(limit, 1, limits.max_history_limit);
  return ClientFrameBody(std::move(f));
}

Result<ClientFrameBody> DecodeReceipt(const json::object& o) {
  ReceiptFrame f;
  PARLEY_RETURN_IF_ERROR(MoveInto(f.conversation_id, GetString(o, "conversation_id", true, kMaxIdLen)));
  PARLEY_RETURN_IF_ERROR(MoveInto(f.kind, GetString(o, "kind", true, 16)));
  PARLEY_RETURN_IF_ERROR(MoveInto(f.up_to_seq, GetUint(o, "up_to_seq", true)));
  if (f.kind != "delivered" && f.kind != "read") {
    return BadRequest("kind must be delivered or read");
  }
  return ClientFrameBody(std::move(f));
}

Result<ClientFrameBody> DecodeTyping(const json::object& o) {
  TypingFrame f;
  PARLEY_RETURN_IF_ERROR(MoveInto(f.conversation_id, GetString(o, "conversation_id", true, kMaxIdLen)));
  PARLEY_RETURN_IF_ERROR(MoveInto(f.state, GetString(o, "state", true, 16)));
  if (f.state != "start" && f.state != "stop") return BadRequest("state must be start or stop");
  return ClientFrameBody(std::move(f));
}

Result<ClientFrameBody> DecodePresence(const json::object& o, bool subscribe,
                                       const Limits& limits) {
  PresenceFrame f;
  f.subscribe = subscribe;
  const json::value* users = o.if_contains("users");
  if (!users || !users->is_array()) return BadRequest("users must be an array of user ids");
  if (users->get_array().size() > limits.max_presence_users) {
    return TooLarge("at most " + std::to_string(limits.max_presence_users) + " users per frame");
  }
  for (const json::value& u : users->get_array()) {
    if (!u.is_string() || u.get_string().size() > 64) {
      return BadRequest("users must be an array of user ids");
    }
    f.users.emplace_back(u.get_string());
  }
  return ClientFrameBody(std::move(f));
}

// The fields every lifecycle frame has: conversation_id, message_id, client_msg_id.
Status DecodeTarget(const json::object& o, const Limits& limits, std::string& conversation_id,
                    uint64_t& message_id, std::string& client_msg_id) {
  PARLEY_RETURN_IF_ERROR(
      MoveInto(conversation_id, GetString(o, "conversation_id", true, kMaxIdLen)));
  std::string id;
  PARLEY_RETURN_IF_ERROR(MoveInto(id, GetString(o, "message_id", true, kMaxIdLen)));
  PARLEY_RETURN_IF_ERROR(MoveInto(message_id, ParseMessageId(id)));
  PARLEY_RETURN_IF_ERROR(
      MoveInto(client_msg_id, GetString(o, "client_msg_id", true, limits.max_client_msg_id)));
  if (conversation_id.empty()) return BadRequest("conversation_id must not be empty");
  if (client_msg_id.empty()) return BadRequest("client_msg_id must be 1-64 characters");
  return Status::Ok();
}

Result<ClientFrameBody> DecodeEdit(const json::object& o, const Limits& limits) {
  EditFrame f;
  PARLEY_RETURN_IF_ERROR(DecodeTarget(o, limits, f.conversation_id, f.message_id, f.client_msg_id));
  PARLEY_RETURN_IF_ERROR(MoveInto(f.content, GetString(o, "content", true, SIZE_MAX)));
  PARLEY_RETURN_IF_ERROR(CheckSize("content", f.content, limits.max_text_bytes));
  if (f.content.empty())
    return BadRequest("content must not be empty (delete the message instead)");
  return ClientFrameBody(std::move(f));
}

Result<ClientFrameBody> DecodeDelete(const json::object& o, const Limits& limits) {
  DeleteFrame f;
  PARLEY_RETURN_IF_ERROR(DecodeTarget(o, limits, f.conversation_id, f.message_id, f.client_msg_id));
  std::string scope;
  PARLEY_RETURN_IF_ERROR(MoveInto(scope, GetString(o, "scope", true, 16)));
  if (scope != "everyone" && scope != "me") return BadRequest("scope must be everyone or me");
  f.for_everyone = scope == "everyone";
  return ClientFrameBody(std::move(f));
}

Result<ClientFrameBody> DecodeReact(const json::object& o, const Limits& limits) {
  ReactFrame f;
  PARLEY_RETURN_IF_ERROR(DecodeTarget(o, limits, f.conversation_id, f.message_id, f.client_msg_id));
  PARLEY_RETURN_IF_ERROR(MoveInto(f.emoji, GetString(o, "emoji", true, SIZE_MAX)));
  PARLEY_RETURN_IF_ERROR(CheckSize("emoji", f.emoji, limits.max_emoji_bytes));
  // JSON strings are valid UTF-8 already; a reaction has no spaces or control characters.
  for (unsigned char c : f.emoji) {
    if (c <= 0x20 || c == 0x7f)
      return BadRequest("emoji must not contain spaces or control characters");
  }
  return ClientFrameBody(std::move(f));
}

Result<ClientFrameBody> DecodeBody(const json::object& o, const Limits& limits) {
  const json::value* op = o.if_contains("op");
  if (!op || !op->is_string()) return BadRequest("op is required");
  std::string_view name = op->get_string();
  if (name == "send") return DecodeSend(o, limits);
  if (name == "sync") {
    SyncFrame f;
    PARLEY_RETURN_IF_ERROR(MoveInto(f.cursor, GetString(o, "cursor", false, 128)));
    return ClientFrameBody(std::move(f));
  }
  if (name == "history") return DecodeHistory(o, limits);
  if (name == "receipt") return DecodeReceipt(o);
  if (name == "typing") return DecodeTyping(o);
  if (name == "presence.subscribe") return DecodePresence(o, true, limits);
  if (name == "presence.unsubscribe") return DecodePresence(o, false, limits);
  if (name == "ping") return ClientFrameBody(PingFrame{});
  if (name == "edit") return DecodeEdit(o, limits);
  if (name == "delete") return DecodeDelete(o, limits);
  if (name == "react") return DecodeReact(o, limits);
  if (name == "auth") {
    AuthFrame f;
    PARLEY_RETURN_IF_ERROR(MoveInto(f.token, GetString(o, "token", true, kMaxTokenLen)));
    return ClientFrameBody(std::move(f));
  }
  return BadRequest("unknown op: " + std::string(name.substr(0, 64)));
}

}  // namespace

DecodedFrame DecodeClientFrame(std::string_view text, const Limits& limits) {
  DecodedFrame out;
  auto parsed = ParseObject(text);
  if (!parsed.ok()) {
    out.body = parsed.status();
    return out;
  }
  const json::object& o = *parsed;
  if (const json::value* id = o.if_contains("id")) {
    bool short_string = id->is_string() && id->get_string().size() <= 128;
    if (short_string || id->is_number()) out.id_json = json::serialize(*id);
  }
  out.body = DecodeBody(o, limits);
  return out;
}

Result<SendFrame> DecodeSendBody(std::string_view text, const Limits& limits) {
  auto parsed = ParseObject(text);
  if (!parsed.ok()) return parsed.status();
  auto body = DecodeSend(*parsed, limits);
  if (!body.ok()) return body.status();
  return std::get<SendFrame>(std::move(body).value());
}

Result<ClientFrameBody> DecodeBodyAs(std::string_view op, std::string_view text,
                                     const Limits& limits) {
  auto parsed = ParseObject(text);
  if (!parsed.ok()) return parsed.status();
  (*parsed)["op"] = json::string_view(op.data(), op.size());  // the route names the frame
  return DecodeBody(*parsed, limits);
}

}  // namespace parley::protocol
