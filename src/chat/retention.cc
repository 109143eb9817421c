#include "chat/retention.h"

#include <spdlog/spdlog.h>

#include <future>

namespace parley::chat {
namespace {

constexpr size_t kConversationPage = 1000;
constexpr int64_t kDayMs = 24LL * 3600 * 1000;

}  // namespace

RetentionJob::RetentionJob(store::Store& store, ChatService& chat, const Clock& clock,
                           MetricsRegistry& metrics, RetentionOptions options)
    : store_(store),
      chat_(chat),
      clock_(clock),
      options_(options),
      purged_entries_(metrics.AddCounter("parley_retention_purged_entries_total",
                                         "Entries deleted by retention and disappearing timers")),
      purge_batches_(metrics.AddCounter("parley_retention_batches_total",
                                        "Retention purges committed (range deletes)")) {}

RetentionJob::~RetentionJob() { Stop(); }

void RetentionJob::Start() {
  thread_ = std::thread([this] {
    while (!Stopping()) {
      auto stats = RunOnce();
      if (!stats.ok()) {
        spdlog::warn("event=retention_failed error=\"{}\"", stats.status().ToString());
      } else if (stats->entries > 0) {
        spdlog::info("event=retention_pass conversations={} batches={} entries={}",
                     stats->conversations, stats->batches, stats->entries);
      }
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms),
                     [this] { return stopping_; });
    }
  });
}

void RetentionJob::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool RetentionJob::Stopping() {
  std::lock_guard lock(mu_);
  return stopping_;
}

int64_t RetentionJob::Cutoff(const store::ConversationRecord& c, int64_t now_ms) const {
  int64_t keep_ms = 0;  // 0: forever
  if (options_.retention_days > 0) keep_ms = options_.retention_days * kDayMs;
  if (c.disappear_after_s > 0) {
    int64_t timer_ms = c.disappear_after_s * 1000;
    keep_ms = keep_ms == 0 ? timer_ms : std::min(keep_ms, timer_ms);
  }
  return keep_ms == 0 ? 0 : now_ms - keep_ms;
}

Result<RetentionStats> RetentionJob::RunOnce() {
  RetentionStats stats;
  bool scanned;
  {
    std::lock_guard lock(mu_);
    scanned = scanned_;
  }
  bool all = options_.retention_days > 0 || !scanned;
  PARLEY_RETURN_IF_ERROR(all ? ScanAll(stats) : ScanTimed(stats));
  if (all && !Stopping()) {
    std::lock_guard lock(mu_);
    scanned_ = true;
  }
  return stats;
}

void RetentionJob::Watch(const std::string& conversation_id) {
  std::lock_guard lock(mu_);
  timed_.insert(conversation_id);
}

Status RetentionJob::ScanAll(RetentionStats& stats) {
  std::string after;
  for (;;) {
    auto page = store_.ListConversations(after, kConversationPage);
    if (!page.ok()) return page.status();
    for (const store::ConversationRecord& c : *page) {
      if (Stopping()) return Status::Ok();
      PARLEY_RETURN_IF_ERROR(Visit(c, stats));
    }
    if (page->size() < kConversationPage) return Status::Ok();
    after = page->back().conversation_id;
  }
}

Status RetentionJob::ScanTimed(RetentionStats& stats) {
  std::set<std::string> ids;
  {
    std::lock_guard lock(mu_);
    ids = timed_;
  }
  for (const std::string& id : ids) {
    if (Stopping()) return Status::Ok();
    auto c = store_.GetConversation(id);
    if (!c.ok()) return c.status();
    PARLEY_RETURN_IF_ERROR(Visit(*c, stats));
  }
  return Status::Ok();
}

Status RetentionJob::Visit(const store::ConversationRecord& c, RetentionStats& stats) {
  {
    std::lock_guard lock(mu_);
    if (c.disappear_after_s > 0) {
      timed_.insert(c.conversation_id);
    } else {
      timed_.erase(c.conversation_id);
    }
  }
  int64_t cutoff = Cutoff(c, clock_.NowMs());
  if (cutoff == 0) return Status::Ok();
  size_t before = stats.entries;
  PARLEY_RETURN_IF_ERROR(PurgeOlder(c, cutoff, stats));
  if (stats.entries > before) ++stats.conversations;
  return Status::Ok();
}

// Deletes the prefix of the stream older than `cutoff_ms`, `batch` entries at a time.
Status RetentionJob::PurgeOlder(const store::ConversationRecord& c, int64_t cutoff_ms,
                                RetentionStats& stats) {
  uint64_t from = c.purged_seq;
  for (;;) {
    auto entries = store_.ReadEntries(c.conversation_id, from, 0, options_.batch, false);
    if (!entries.ok()) return entries.status();
    store::PurgeRequest purge;
    for (const store::EntryRecord& e : *entries) {
      if (e.ts >= cutoff_ms) break;
      purge.up_to_seq = e.seq;
      if (!e.is_event) purge.messages.push_back({e.seq, e.message_id, e.media_id});
    }
    if (purge.up_to_seq == 0) return Status::Ok();
    size_t purged = 0;
    for (const auto& e : *entries) purged += e.seq <= purge.up_to_seq;
    store::AppendRequest request;
    request.entry.conversation_id = c.conversation_id;
    from = purge.up_to_seq;
    request.purge = std::move(purge);
    PARLEY_RETURN_IF_ERROR(Commit(std::move(request)));
    ++stats.batches;
    stats.entries += purged;
    purge_batches_.Inc();
    purged_entries_.Inc(purged);
    if (purged < options_.batch) return Status::Ok();  // reached a fresh entry or the end
  }
}

Status RetentionJob::Commit(store::AppendRequest request) {
  auto done = std::make_shared<std::promise<Status>>();
  auto committed = done->get_future();
  chat_.AppendChange(std::move(request), "", [done](Result<store::AppendResult> result) {
    done->set_value(result.ok() ? Status::Ok() : result.status());
  });
  return committed.get();
}

}  // namespace parley::chat
