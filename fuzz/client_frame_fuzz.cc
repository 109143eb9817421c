// Client frames (WebSocket text and the HTTP bodies decoded the same way): any bytes decode to
// a frame or an error without crashing, and a decoded frame is inside the configured limits.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "fuzz_check.h"
#include "protocol/frames.h"

using namespace parley::protocol;

namespace {

// Small limits, so inputs of a few hundred bytes reach every bound.
Limits FuzzLimits() {
  Limits l;
  l.max_text_bytes = 64;
  l.max_client_msg_id = 16;
  l.max_presence_users = 4;
  l.max_history_limit = 20;
  l.max_emoji_bytes = 8;
  return l;
}

void CheckInLimits(const ClientFrameBody& body, const Limits& l) {
  if (auto* s = std::get_if<SendFrame>(&body)) {
    FUZZ_CHECK(s->content.size() <= l.max_text_bytes);
    FUZZ_CHECK(s->client_msg_id.size() <= l.max_client_msg_id);
  } else if (auto* h = std::get_if<HistoryFrame>(&body)) {
    FUZZ_CHECK(h->limit <= l.max_history_limit);
  } else if (auto* p = std::get_if<PresenceFrame>(&body)) {
    FUZZ_CHECK(p->users.size() <= l.max_presence_users);
  } else if (auto* e = std::get_if<EditFrame>(&body)) {
    FUZZ_CHECK(e->content.size() <= l.max_text_bytes);
  } else if (auto* r = std::get_if<ReactFrame>(&body)) {
    FUZZ_CHECK(r->emoji.size() <= l.max_emoji_bytes);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Limits limits = FuzzLimits();
  std::string_view text(reinterpret_cast<const char*>(data), size);

  DecodedFrame frame = DecodeClientFrame(text, limits);
  if (frame.body.ok()) CheckInLimits(*frame.body, limits);

  if (auto send = DecodeSendBody(text, limits); send.ok()) CheckInLimits(*send, limits);
  for (std::string_view op : {"edit", "delete", "react"}) {
    if (auto body = DecodeBodyAs(op, text, limits); body.ok()) CheckInLimits(*body, limits);
  }
  return 0;
}
