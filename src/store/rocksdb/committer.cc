#include "store/rocksdb/committer.h"

#include <chrono>

namespace parley::store {
namespace {

// Bounds one batch so a backlog cannot make one write (and the latency of its
// first append) arbitrarily large.
constexpr size_t kMaxBatch = 1024;
// The cache is an optimisation for hot conversations: start over past this.
constexpr size_t kMaxCachedConversations = 100'000;

}  // namespace

Committer::Committer(RocksDb* db, const StoreOptions& options, uint64_t last_version)
    : db_(db),
      sync_writes_(options.sync_writes),
      last_version_(last_version),
      committed_version_(last_version),
      stats_(options.metrics, kMaxBatch) {
  thread_ = std::thread([this] { Run(); });
}

Committer::~Committer() { Close(); }

void Committer::Submit(AppendRequest request, AppendCallback done) {
  {
    std::lock_guard lock(mu_);
    if (!closing_) {
      queue_.push_back({std::move(request), std::move(done), nullptr});
      wake_.notify_one();
      return;
    }
  }
  done(Unavailable("store is closed"));
}

bool Committer::RunExclusive(std::function<void()> task) {
  std::lock_guard lock(mu_);
  if (closing_) return false;
  queue_.push_back({{}, {}, std::move(task)});
  wake_.notify_one();
  return true;
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
    std::function<void()> exclusive;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return !queue_.empty() || closing_; });
      if (queue_.empty()) return;  // closing and drained
      // A batch ends before an exclusive task, which then runs alone.
      if (queue_.front().exclusive) {
        exclusive = std::move(queue_.front().exclusive);
        queue_.pop_front();
      }
      while (!exclusive && !queue_.empty() && !queue_.front().exclusive &&
             batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (exclusive) {
      exclusive();
      continue;
    }
    CommitBatch(batch);
    batch.clear();
  }
}

void Committer::CommitBatch(std::vector<Pending>& batch) {
  BatchBuilder builder(*db_, cache_, last_version_);
  std::vector<Result<AppendResult>> results;
  results.reserve(batch.size());
  for (const Pending& pending : batch) results.push_back(builder.Add(pending.request));

  rocksdb::WriteBatch& write = builder.Finish();
  Status written = write.Count() == 0 ? Status::Ok() : Write(write);
  if (written.ok()) {
    Publish(builder.conversations());
    last_version_ = builder.last_version();
  } else {
    for (Result<AppendResult>& result : results) result = written;
  }
  // Counted before the callbacks, so a caller that saw its result sees its batch counted.
  stats_.CountBatch(batch.size());
  // Raised before the callbacks: whoever a callback wakes (a fan-out, a
  // long-poll) must be able to read what it was told about.
  committed_version_.store(last_version_, std::memory_order_release);
  for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
}

Status Committer::Write(rocksdb::WriteBatch& batch) {
  rocksdb::WriteOptions options;
  options.sync = sync_writes_;
  auto start = std::chrono::steady_clock::now();
  rocksdb::Status s = db_->db->Write(options, &batch);
  stats_.ObserveCommit(start);
  if (!s.ok()) return Unavailable("store write failed: " + s.ToString());
  return Status::Ok();
}

void Committer::Publish(const ConversationCache& changed) {
  if (cache_.size() + changed.size() > kMaxCachedConversations) cache_.clear();
  for (const auto& [id, conversation] : changed) cache_[id] = conversation;
}

}  // namespace parley::store
