#include "store/commit_stats.h"

#include <vector>

namespace parley::store {

CommitStats::CommitStats(MetricsRegistry* metrics, size_t max_batch) {
  if (metrics == nullptr) return;
  std::vector<double> sizes;
  for (double b = 1; b <= static_cast<double>(max_batch); b *= 2) sizes.push_back(b);
  commit_seconds_ = &metrics->AddHistogram("parley_store_commit_seconds",
                                           "Latency of one group-commit write", LatencyBuckets());
  batch_size_ = &metrics->AddHistogram("parley_store_batch_size", "Appends per group commit", sizes);
  batches_total_ = &metrics->AddCounter("parley_store_batches_total", "Group commits");
  appends_total_ = &metrics->AddCounter("parley_store_appends_total", "Appends processed");
}

void CommitStats::ObserveCommit(std::chrono::steady_clock::time_point start) {
  if (commit_seconds_ == nullptr) return;
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  commit_seconds_->Observe(elapsed.count());
}

void CommitStats::CountBatch(size_t appends) {
  batches_.fetch_add(1, std::memory_order_relaxed);
  appends_.fetch_add(appends, std::memory_order_relaxed);
  if (batches_total_ == nullptr) return;
  batches_total_->Inc();
  appends_total_->Inc(appends);
  batch_size_->Observe(static_cast<double>(appends));
}

Store::Stats CommitStats::Get() const {
  return {batches_.load(std::memory_order_relaxed), appends_.load(std::memory_order_relaxed)};
}

}  // namespace parley::store
