// The append path of the PostgreSQL store: one thread with its own
// connection takes every pending append and commits them in ONE transaction
// (group commit: a lone append is committed at once, batches grow while a
// commit is in flight; AppendTx keeps it to two round trips). A failed append
// leaves nothing of itself; callbacks run on this thread after COMMIT, in
// commit order.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/commit_stats.h"
#include "store/postgres/pg_connection.h"
#include "store/store.h"

namespace parley::store::pg {

class Committer {
 public:
  Committer(ConnectOptions connect, const StoreOptions& options, uint64_t last_version);
  ~Committer();  // Close()
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // Queues an append; after Close() fails it at once with kUnavailable.
  void Submit(AppendRequest request, AppendCallback done);
  // Commits everything queued, runs its callbacks, then stops the thread.
  void Close();

  uint64_t CommittedVersion() const { return committed_version_.load(std::memory_order_acquire); }
  Store::Stats GetStats() const { return stats_.Get(); }

 private:
  struct Pending {
    AppendRequest request;
    AppendCallback done;
  };

  void Run();
  void CommitBatch(std::vector<Pending>& batch);
  // Runs the batch's transaction; fills `results` and the new counter value.
  Status Transact(std::vector<Pending>& batch, std::vector<Result<AppendResult>>& results,
                  uint64_t* last_version);
  // One attempt; `careful`: a savepoint per request, so one failing after its
  // writes is rolled back alone. Sets *redo when the batch must run again carefully.
  Status TransactOnce(std::vector<Pending>& batch, std::vector<Result<AppendResult>>& results,
                      uint64_t* last_version, bool careful, bool* redo);
  void RaiseCommitted(uint64_t version);
  void ExpireIdempotency();

  const ConnectOptions connect_;
  std::unique_ptr<Connection> conn_;  // committer thread; reopened after a failure

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;  // guarded by mu_
  bool closing_ = false;       // guarded by mu_
  std::thread thread_;

  std::chrono::steady_clock::time_point next_expiry_;  // committer thread
  std::atomic<uint64_t> committed_version_;
  CommitStats stats_;
};

}  // namespace parley::store::pg
