// The counters of a store's group commit, for GetStats() and /metrics
// (parley_store_*), shared by the RocksDB and PostgreSQL committers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "common/metrics.h"
#include "store/store.h"

namespace parley::store {

class CommitStats {
 public:
  // `metrics` may be null (no /metrics); `max_batch` bounds the batch-size histogram.
  CommitStats(MetricsRegistry* metrics, size_t max_batch);

  // Time of one database write, from `start` to now.
  void ObserveCommit(std::chrono::steady_clock::time_point start);
  // One batch of `appends` requests processed.
  void CountBatch(size_t appends);
  Store::Stats Get() const;

 private:
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> appends_{0};
  Histogram* commit_seconds_ = nullptr;
  Histogram* batch_size_ = nullptr;
  Counter* batches_total_ = nullptr;
  Counter* appends_total_ = nullptr;
};

}  // namespace parley::store
