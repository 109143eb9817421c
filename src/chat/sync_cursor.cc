// The sync cursor codec, alone in its file so fuzz/sync_cursor_fuzz.cc links it without the
// rest of the chat service.
#include <charconv>

#include "chat/chat_service.h"

namespace parley::chat {

Result<uint64_t> ChatService::ParseCursor(std::string_view cursor) {
  if (cursor.empty()) return uint64_t{0};
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), v);
  if (ec != std::errc() || end != cursor.data() + cursor.size()) {
    return BadRequest("cursor is not one this server issued");
  }
  return v;
}

std::string ChatService::FormatCursor(uint64_t version) { return std::to_string(version); }

}  // namespace parley::chat
