#include "chat/chat_service.h"

#include <charconv>

namespace parley::chat {

ChatService::ChatService(store::Store& store, directory::SessionDirectory& directory,
                         Relations& relations, const Clock& clock, Snowflake& ids,
                         MetricsRegistry& metrics, ChatOptions options)
    : store_(store),
      directory_(directory),
      relations_(relations),
      clock_(clock),
      ids_(ids),
      options_(options),
      send_limiter_(clock, options.send_rate, options.send_burst),
      messages_in_(metrics.AddCounter("parley_messages_in_total", "Messages accepted and stored")),
      messages_out_(metrics.AddCounter("parley_messages_out_total",
                                       "Message and event frames queued to sessions")),
      duplicates_(metrics.AddCounter("parley_messages_duplicate_total",
                                     "Idempotent resends answered with the original ack")),
      send_ack_seconds_(metrics.AddHistogram("parley_send_ack_seconds",
                                             "From a send's arrival to its durable ack",
                                             LatencyBuckets())),
      shards_(options.shard_threads, "chat-shard"),
      readers_(options.reader_threads, "chat-read") {}

ChatService::~ChatService() { Shutdown(); }

void ChatService::Shutdown() {
  shards_.Shutdown();
  readers_.Shutdown();
}

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
