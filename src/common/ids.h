// Identifiers of the contract (SPEC section 2): user ids, conversation ids and
// Snowflake message ids.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace parley {

// Lower-cases `raw` and checks it is 3-32 chars of [a-z0-9_.-].
Result<std::string> NormalizeUserId(std::string_view raw);

// The one conversation two users share, whoever writes first: "d:" + the two
// ids in sorted order (':' cannot appear in a user id, so this is unambiguous).
std::string DirectConversationId(std::string_view a, std::string_view b);
bool IsDirectConversationId(std::string_view id);
// The two members named by a direct conversation id, if it is one.
std::optional<std::pair<std::string, std::string>> DirectMembers(std::string_view id);

// Ids the server makes for groups ("g:<snowflake>") and channels ("c:<snowflake>").
bool IsGroupConversationId(std::string_view id);
bool IsChannelConversationId(std::string_view id);

// A conversation id as a client may send it: 1-64 chars, no control chars.
bool LooksLikeConversationId(std::string_view id);

// A message id as clients send it: a non-zero decimal string. The error names `field`.
Result<uint64_t> ParseMessageId(std::string_view text, std::string_view field = "message_id");

// 64-bit Snowflake: 41 bits of milliseconds since kEpochMs, 10 bits of node
// id, 12 bits of per-millisecond counter. Thread-safe; never goes backwards
// even if the wall clock does.
class Snowflake {
 public:
  static constexpr int64_t kEpochMs = 1'704'067'200'000;  // 2024-01-01T00:00:00Z
  static constexpr int kMaxNodeId = 1023;

  Snowflake(const Clock& clock, int node_id);
  uint64_t Next();
  static int64_t TimestampMs(uint64_t id) { return static_cast<int64_t>(id >> 22) + kEpochMs; }
  static int NodeId(uint64_t id) { return static_cast<int>((id >> 12) & 0x3ff); }

 private:
  const Clock& clock_;
  const uint64_t node_bits_;
  std::mutex mu_;
  int64_t last_ms_ = 0;   // guarded by mu_
  uint64_t counter_ = 0;  // guarded by mu_
};

}  // namespace parley
