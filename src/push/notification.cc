#include <algorithm>
#include <string>

#include "common/crypto.h"
#include "push/providers.h"

namespace parley::push {

AlertText MakeAlertText(const Notification& n) {
  AlertText text;
  text.title = n.sender.empty() ? "Parley" : n.sender;
  std::string count = n.count == 1 ? "New message" : std::to_string(n.count) + " new messages";
  if (n.preview.empty()) {
    text.body = count;
  } else {
    text.body =
        n.count == 1 ? n.preview : n.preview + " (+" + std::to_string(n.count - 1) + " more)";
  }
  return text;
}

std::string CollapseId(std::string_view conversation_id) {
  constexpr size_t kMaxCollapseId = 64;
  if (conversation_id.size() <= kMaxCollapseId) return std::string(conversation_id);
  return Sha256Hex(conversation_id);  // 64 hex characters
}

std::optional<Delivery> CommonOutcome(const HttpReply& reply) {
  if (reply.status == 0) return Delivery{Outcome::kRetry, "transport: " + reply.error, 0};
  std::string detail = "HTTP " + std::to_string(reply.status);
  if (reply.status >= 200 && reply.status < 300) return Delivery{Outcome::kSent, detail, 0};
  if (reply.status == 429 || reply.status >= 500) {
    return Delivery{Outcome::kRetry, detail, reply.retry_after_ms};
  }
  return std::nullopt;
}

int64_t BackoffDelayMs(uint32_t attempt, int64_t base_ms, int64_t max_ms, std::mt19937_64& rng) {
  int64_t cap = base_ms;
  for (uint32_t i = 0; i < attempt && cap < max_ms; ++i) cap *= 2;
  cap = std::min(cap, max_ms);
  return std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(cap, 0))(rng);
}

}  // namespace parley::push
