#include "store/postgres/pg_committer.h"

#include "store/postgres/append_tx.h"

namespace parley::store::pg {
namespace {

// Bounds one transaction so a backlog cannot make one commit (and the
// latency of its first append) arbitrarily large.
constexpr size_t kMaxBatch = 256;
// Idempotency records older than this answer no retry (the RocksDB store's
// compaction filter drops them after the same time).
constexpr int64_t kIdempotencyRetentionMs = 7LL * 24 * 3600 * 1000;
constexpr std::chrono::minutes kExpiryInterval{10};

}  // namespace

Committer::Committer(ConnectOptions connect, const StoreOptions& options, uint64_t last_version)
    : connect_(std::move(connect)),
      next_expiry_(std::chrono::steady_clock::now()),
      committed_version_(last_version),
      stats_(options.metrics, kMaxBatch) {
  thread_ = std::thread([this] { Run(); });
}

Committer::~Committer() { Close(); }

void Committer::Submit(AppendRequest request, AppendCallback done) {
  {
    std::lock_guard lock(mu_);
    if (!closing_) {
      queue_.push_back({std::move(request), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  done(Unavailable("store is closed"));
}

void Committer::Close() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Committer::Run() {
  std::vector<Pending> batch;
  batch.reserve(kMaxBatch);
  while (true) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;  // closing and drained
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitBatch(batch);
    batch.clear();
    ExpireIdempotency();
  }
}

void Committer::RaiseCommitted(uint64_t version) {
  uint64_t seen = committed_version_.load();
  while (seen < version && !committed_version_.compare_exchange_weak(seen, version)) {
  }
}

void Committer::CommitBatch(std::vector<Pending>& batch) {
  std::vector<Result<AppendResult>> results;
  results.reserve(batch.size());
  uint64_t last_version = 0;
  auto start = std::chrono::steady_clock::now();
  Status committed = Transact(batch, results, &last_version);
  stats_.ObserveCommit(start);
  if (!committed.ok()) {
    // Nothing of the batch is acknowledged. (A connection lost during COMMIT
    // may still have committed it: a retried idempotent send then finds it.)
    results.assign(batch.size(), committed);
  }
  stats_.CountBatch(batch.size());
  // Raised before the callbacks: whoever a callback wakes must be able to
  // read what it was told about.
  if (committed.ok()) RaiseCommitted(last_version);
  for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
}

Status Committer::Transact(std::vector<Pending>& batch,
                           std::vector<Result<AppendResult>>& results, uint64_t* last_version) {
  if (!conn_ || !conn_->healthy()) {
    conn_.reset();
    Result<std::unique_ptr<Connection>> opened = Connection::Open(connect_);
    if (!opened.ok()) return opened.status();
    conn_ = std::move(*opened);
  }
  // Fast: no savepoints, writes pipelined. A request that fails after
  // writing (never for a failed check) makes the batch run again carefully.
  bool redo = false;
  Status s = TransactOnce(batch, results, last_version, /*careful=*/false, &redo);
  if (!redo) return s;
  results.clear();
  return TransactOnce(batch, results, last_version, /*careful=*/true, &redo);
}

Status Committer::TransactOnce(std::vector<Pending>& batch,
                               std::vector<Result<AppendResult>>& results, uint64_t* last_version,
                               bool careful, bool* redo) {
  Connection& conn = *conn_;
  AppendTx tx(conn);
  auto fail = [&](Status status) {
    if (conn.healthy()) conn.Run("ROLLBACK").ok();
    return status;
  };
  tx.Queue("BEGIN");
  std::vector<const AppendRequest*> requests;
  for (const Pending& pending : batch) requests.push_back(&pending.request);
  if (Status s = tx.Begin(requests); !s.ok()) return fail(s);
  RaiseCommitted(tx.first_version());  // committed by whoever held the lock before
  for (Pending& pending : batch) {
    uint64_t version = tx.last_version();
    if (careful) {
      tx.Queue("SAVEPOINT append");
      if (Status s = tx.Flush(); !s.ok()) return fail(s);
    }
    Result<AppendResult> result = tx.Add(pending.request);
    if (careful && result.ok()) {
      tx.Queue("RELEASE SAVEPOINT append");
      if (Status s = tx.Flush(); !s.ok()) result = s;  // this request's writes failed
    }
    if (!result.ok()) {
      if (!conn.healthy() || result.status().code() == Code::kUnavailable) {
        return fail(result.status());  // the transaction is lost: the whole batch fails
      }
      if (tx.tainted() && !careful) {
        *redo = true;
        return fail(result.status());
      }
      if (tx.tainted()) {
        tx.Discard();
        tx.Forget();
        if (Status s = conn.Run("ROLLBACK TO SAVEPOINT append"); !s.ok()) return fail(s);
      }
      tx.ResetVersion(version);
    }
    results.push_back(std::move(result));
  }
  *last_version = tx.last_version();
  if (*last_version != tx.first_version()) {
    tx.Queue("UPDATE store_meta SET last_version = $1 WHERE id = 1", {U64(*last_version)});
  }
  tx.Queue("COMMIT");
  Status committed = tx.Flush();
  if (committed.ok()) return committed;
  if (!careful && conn.healthy() && committed.code() != Code::kUnavailable) {
    *redo = true;  // a queued write failed: find out whose
  }
  return fail(committed);
}

// Drops idempotency records past their retention, now and then, outside the
// batches (it takes no counter lock).
void Committer::ExpireIdempotency() {
  auto now = std::chrono::steady_clock::now();
  if (now < next_expiry_ || !conn_ || !conn_->healthy()) return;
  next_expiry_ = now + kExpiryInterval;
  auto wall = std::chrono::system_clock::now().time_since_epoch();
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wall).count();
  conn_->Exec("DELETE FROM idempotency WHERE ts < $1", {Int(now_ms - kIdempotencyRetentionMs)})
      .ok();
}

}  // namespace parley::store::pg
