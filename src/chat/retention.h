// Retention: deletes entries older than the conversation's disappearing-
// messages timer (`disappear_after_s`) or the server-wide --retention-days,
// whichever is shorter, in the background and never on the send path. Each
// conversation loses the prefix of its stream older than the cutoff, in
// purges of at most `batch` entries: one store request each, which the store
// turns into range deletes (entries, the version index, reactions) plus the
// message and media index keys of the purged messages.
//
// Clients hide expired messages themselves from `disappear_after_s` (in the
// conversation list and the settings_changed event); the job frees the storage
// and makes the media of purged messages unreferenced.
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "chat/chat_service.h"

namespace parley::chat {

struct RetentionOptions {
  int64_t retention_days = 0;    // 0: keep forever (conversation timers still apply)
  int64_t interval_ms = 60'000;  // between passes of the background thread
  size_t batch = 1000;           // entries per purge
};

struct RetentionStats {
  size_t conversations = 0;  // conversations that lost entries
  size_t batches = 0;        // purge requests committed
  size_t entries = 0;        // entries deleted
};

class RetentionJob {
 public:
  RetentionJob(store::Store& store, ChatService& chat, const Clock& clock, MetricsRegistry& metrics,
               RetentionOptions options);
  ~RetentionJob();  // Stop()

  // Starts the background thread: a pass now and then every interval.
  void Start();
  // Stops it after the pass in progress (the rest waits for the next start).
  void Stop();
  // One pass, on the calling thread. The first pass (and every pass with
  // retention_days) reads every conversation; later ones only those known
  // to have a timer: seen by an earlier pass or announced with Watch.
  Result<RetentionStats> RunOnce();
  // A conversation's timer was set (from the settings_changed commit).
  void Watch(const std::string& conversation_id);

 private:
  // Entries of `c` older than this are deleted; 0: none.
  int64_t Cutoff(const store::ConversationRecord& c, int64_t now_ms) const;
  Status PurgeOlder(const store::ConversationRecord& c, int64_t cutoff_ms, RetentionStats& stats);
  Status Visit(const store::ConversationRecord& c, RetentionStats& stats);
  Status ScanAll(RetentionStats& stats);
  Status ScanTimed(RetentionStats& stats);
  Status Commit(store::AppendRequest request);
  bool Stopping();

  store::Store& store_;
  ChatService& chat_;
  const Clock& clock_;
  const RetentionOptions options_;
  Counter& purged_entries_;
  Counter& purge_batches_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;        // guarded by mu_
  bool scanned_ = false;         // guarded by mu_: a full pass found every timer
  std::set<std::string> timed_;  // guarded by mu_: conversations with a timer
  std::thread thread_;
};

}  // namespace parley::chat
