// Sync cursors come from clients (?cursor= and the `sync` frame): anything parses to a
// version or a bad_request, and every cursor the server issues parses back to its version.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chat/chat_service.h"
#include "fuzz_check.h"

using parley::chat::ChatService;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = ChatService::ParseCursor(text);
  if (parsed.ok()) {
    // Canonical cursors round-trip exactly; others ("007") still name the same version.
    auto again = ChatService::ParseCursor(ChatService::FormatCursor(*parsed));
    FUZZ_CHECK(again.ok() && *again == *parsed);
  } else {
    FUZZ_CHECK(parsed.status().code() == parley::Code::kBadRequest);
  }
  return 0;
}
