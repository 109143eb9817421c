// Client → server frames of the WebSocket protocol (SPEC section 4) as plain
// structs, and their decoding/validation from JSON text. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace parley::protocol {

struct Limits {
  size_t max_text_bytes = 16 * 1024;   // content of a message
  size_t max_client_msg_id = 64;
  size_t max_presence_users = 1000;    // per subscribe frame
  size_t max_history_limit = 200;
  size_t max_emoji_bytes = 32;         // a reaction: one emoji, ZWJ sequences included
};

struct AuthFrame { std::string token; };
struct SendFrame {
  std::string to;               // user id (1:1), or
  std::string conversation_id;  // an existing conversation
  std::string content;
  std::string type = "text";
  std::string client_msg_id;
  std::string media_id;
  std::string reply_to;
};
struct SyncFrame { std::string cursor; };
struct HistoryFrame {
  std::string conversation_id;
  uint64_t before_seq = 0;  // 0: newest
  std::optional<uint64_t> after_seq;  // present: page forward from it
  size_t limit = 50;
};
struct ReceiptFrame {
  std::string conversation_id;
  std::string kind;  // "delivered" | "read"
  uint64_t up_to_seq = 0;
};
struct TypingFrame {
  std::string conversation_id;
  std::string state;  // "start" | "stop"
};
struct PresenceFrame {
  bool subscribe = true;
  std::vector<std::string> users;
};
struct PingFrame {};
// The message lifecycle: each names a message of a conversation the sender is
// a member of, and is idempotent by (sender, client_msg_id) like `send`.
struct EditFrame {
  std::string conversation_id;
  uint64_t message_id = 0;
  std::string content;
  std::string client_msg_id;
};
struct DeleteFrame {
  std::string conversation_id;
  uint64_t message_id = 0;
  bool for_everyone = true;  // "scope": "everyone" | "me"
  std::string client_msg_id;
};
struct ReactFrame {
  std::string conversation_id;
  uint64_t message_id = 0;
  std::string emoji;  // "": clear the sender's reaction
  std::string client_msg_id;
};

using ClientFrameBody =
    std::variant<AuthFrame, SendFrame, SyncFrame, HistoryFrame, ReceiptFrame, TypingFrame,
                 PresenceFrame, PingFrame, EditFrame, DeleteFrame, ReactFrame>;

struct DecodedFrame {
  // The client's "id" re-serialized as JSON (a string or number), or empty;
  // recovered even when the rest of the frame is invalid, so errors echo it.
  std::string id_json;
  Result<ClientFrameBody> body = BadRequest("empty frame");
};

DecodedFrame DecodeClientFrame(std::string_view text, const Limits& limits);

// The body of POST /v1/messages: a `send` frame without "op".
Result<SendFrame> DecodeSendBody(std::string_view text, const Limits& limits);
// An HTTP body that is the client frame named `op` without "op" (edit, delete, react).
Result<ClientFrameBody> DecodeBodyAs(std::string_view op, std::string_view text,
                                     const Limits& limits);

}  // namespace parley::protocol
