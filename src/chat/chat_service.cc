#include "chat/chat_service.h"

#include <algorithm>

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
      sparse_fanouts_(metrics.AddCounter("parley_fanout_online_only_total",
                                         "Fan-outs that walked the online users, not the members")),
      duplicates_(metrics.AddCounter("parley_messages_duplicate_total",
                                     "Idempotent resends answered with the original ack")),
      send_ack_seconds_(metrics.AddHistogram("parley_send_ack_seconds",
                                             "From a send's arrival to its durable ack",
                                             LatencyBuckets())),
      gap_fills_(metrics.AddCounter("parley_cluster_gap_fills_total",
                                    "Entries overtaken by a later one of their conversation, "
                                    "read from the store to keep seq order")),
      shards_(options.shard_threads, "chat-shard"),
      readers_(options.reader_threads, "chat-read") {
  applied_version_ = store_.CommittedVersion();  // all of it is in the store already
}

void ChatService::NoteCommitted(const std::string& conversation_id, uint64_t version) {
  {
    std::lock_guard lock(index_mu_);
    uint64_t& v = conversation_versions_[conversation_id];
    v = std::max(v, version);
  }
  // Callbacks run in commit order, so every lower version is applied too.
  uint64_t seen = applied_version_.load();
  while (seen < version && !applied_version_.compare_exchange_weak(seen, version)) {
  }
}

uint64_t ChatService::ConversationVersion(const std::string& conversation_id) {
  if (options_.shared_store) {  // other nodes commit too: only the store knows
    auto c = store_.GetConversation(conversation_id);
    return c.ok() ? c->last_version : UINT64_MAX;  // unknown: read it
  }
  {
    std::lock_guard lock(index_mu_);
    auto it = conversation_versions_.find(conversation_id);
    if (it != conversation_versions_.end()) return it->second;
  }
  auto c = store_.GetConversation(conversation_id);
  uint64_t stored = c.ok() ? c->last_version : 0;
  std::lock_guard lock(index_mu_);
  uint64_t& v = conversation_versions_[conversation_id];
  v = std::max(v, stored);  // a commit may have raised it meanwhile
  return v;
}

Result<std::shared_ptr<const std::vector<store::MemberRecord>>> ChatService::Memberships(
    const std::string& user_id) {
  if (options_.shared_store) {
    auto list = store_.ListUserConversations(user_id);
    if (!list.ok()) return list.status();
    return std::make_shared<const std::vector<store::MemberRecord>>(std::move(*list));
  }
  uint64_t generation;
  {
    std::lock_guard lock(index_mu_);
    UserIndex& u = users_[user_id];
    if (u.memberships) return u.memberships;
    generation = u.generation;
  }
  auto list = store_.ListUserConversations(user_id);
  if (!list.ok()) return list.status();
  auto shared = std::make_shared<const std::vector<store::MemberRecord>>(std::move(*list));
  std::lock_guard lock(index_mu_);
  UserIndex& u = users_[user_id];
  if (u.generation == generation) u.memberships = shared;  // else a change raced the read
  return shared;
}

void ChatService::InvalidateMemberships(const std::vector<std::string>& users) {
  std::lock_guard lock(index_mu_);
  for (const std::string& user : users) {
    UserIndex& u = users_[user];
    ++u.generation;
    u.memberships.reset();
  }
}

ChatService::~ChatService() { Shutdown(); }

void ChatService::Shutdown() {
  shards_.Shutdown();
  readers_.Shutdown();
}

store::AppendRequest EventRequest(std::string conversation_id, std::string actor, std::string kind,
                                  int64_t ts) {
  store::AppendRequest r;
  r.entry.conversation_id = std::move(conversation_id);
  r.entry.is_event = true;
  r.entry.kind = std::move(kind);
  r.entry.actor = std::move(actor);
  r.entry.ts = ts;
  return r;
}

}  // namespace parley::chat
