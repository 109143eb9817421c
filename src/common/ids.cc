#include "common/ids.h"

#include <algorithm>
#include <charconv>
#include <thread>

namespace parley {

Result<uint64_t> ParseMessageId(std::string_view text, std::string_view field) {
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id == 0) {
    return BadRequest(std::string(field) + " must be a message id (a decimal string)");
  }
  return id;
}

Result<std::string> NormalizeUserId(std::string_view raw) {
  if (raw.size() < 3 || raw.size() > 32) {
    return BadRequest("user_id must be 3-32 characters of [a-z0-9_.-]");
  }
  std::string id(raw);
  for (char& c : id) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                   c == '.' || c == '-';
    if (!allowed) return BadRequest("user_id must be 3-32 characters of [a-z0-9_.-]");
  }
  return id;
}

std::string DirectConversationId(std::string_view a, std::string_view b) {
  if (b < a) std::swap(a, b);
  std::string id = "d:";
  id.append(a).append(":").append(b);
  return id;
}

bool IsDirectConversationId(std::string_view id) { return id.starts_with("d:"); }

std::optional<std::pair<std::string, std::string>> DirectMembers(std::string_view id) {
  if (!IsDirectConversationId(id)) return std::nullopt;
  std::string_view rest = id.substr(2);
  auto colon = rest.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return std::make_pair(std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1)));
}

bool IsGroupConversationId(std::string_view id) { return id.starts_with("g:"); }
bool IsChannelConversationId(std::string_view id) { return id.starts_with("c:"); }

bool LooksLikeConversationId(std::string_view id) {
  if (id.empty() || id.size() > 80) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return static_cast<unsigned char>(c) > 0x20 && c != 0x7f; });
}

Snowflake::Snowflake(const Clock& clock, int node_id)
    : clock_(clock), node_bits_(static_cast<uint64_t>(node_id & kMaxNodeId) << 12) {}

uint64_t Snowflake::Next() {
  std::lock_guard lock(mu_);
  int64_t now = std::max(clock_.NowMs(), last_ms_);
  if (now == last_ms_) {
    if (++counter_ > 0xfff) {  // 4096 ids in this millisecond: borrow the next one
      ++now;
      counter_ = 0;
    }
  } else {
    counter_ = 0;
  }
  last_ms_ = now;
  return (static_cast<uint64_t>(now - kEpochMs) << 22) | node_bits_ | counter_;
}

}  // namespace parley
