// The single writer of the conversation streams: one thread that takes every
// pending append, stages them into one WriteBatch, writes it with one WAL
// sync (group commit) and then runs the callbacks in commit order. A lone
// append is written at once; batches grow only while a write is in flight.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "store/commit_stats.h"
#include "store/rocksdb/batch_builder.h"
#include "store/rocksdb/column_families.h"
#include "store/store.h"

namespace parley::store {

class Committer {
 public:
  // `db` must outlive the committer; `last_version` is the highest version
  // already committed.
  Committer(RocksDb* db, const StoreOptions& options, uint64_t last_version);
  ~Committer();  // Close()
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // Queues an append; after Close() fails it at once with kUnavailable.
  void Submit(AppendRequest request, AppendCallback done);
  // Runs `task` on the committer thread between two batches, in queue order,
  // so that it sees no half-staged batch. False (and `task` dropped) after Close().
  bool RunExclusive(std::function<void()> task);
  // Commits everything queued, runs its callbacks, then stops the thread.
  void Close();

  uint64_t CommittedVersion() const { return committed_version_.load(std::memory_order_acquire); }
  Store::Stats GetStats() const { return stats_.Get(); }

 private:
  struct Pending {
    AppendRequest request;
    AppendCallback done;
    std::function<void()> exclusive;  // set: a RunExclusive task instead of an append
  };

  void Run();
  void CommitBatch(std::vector<Pending>& batch);
  Status Write(rocksdb::WriteBatch& batch);
  void Publish(const ConversationCache& changed);

  RocksDb* const db_;
  const bool sync_writes_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;  // guarded by mu_
  bool closing_ = false;       // guarded by mu_
  std::thread thread_;

  // Committer thread only.
  uint64_t last_version_;
  ConversationCache cache_;

  std::atomic<uint64_t> committed_version_;
  CommitStats stats_;
};

}  // namespace parley::store
