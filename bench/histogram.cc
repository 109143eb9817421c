#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace parley::bench {

Histogram::Histogram() : counts_(kBuckets, 0) {}

size_t Histogram::IndexOf(uint64_t v) {
  if (v < kSub) return static_cast<size_t>(v);
  const int msb = 63 - std::countl_zero(v);  // >= kSubBits
  const int shift = msb - kSubBits;
  const uint64_t top = v >> shift;  // in [kSub, 2*kSub)
  return static_cast<size_t>(shift + 1) * kSub + static_cast<size_t>(top - kSub);
}

uint64_t Histogram::BucketLow(size_t index) {
  if (index < kSub) return index;
  const size_t shift = index / kSub - 1;
  const uint64_t top = kSub + index % kSub;
  return top << shift;
}

uint64_t Histogram::BucketHigh(size_t index) {
  if (index < kSub) return index;
  const size_t shift = index / kSub - 1;
  const uint64_t low = BucketLow(index);
  const uint64_t width = uint64_t{1} << shift;
  return low + (width - 1);
}

void Histogram::RecordN(uint64_t v, uint64_t n) {
  if (n == 0) return;
  counts_[IndexOf(v)] += n;
  count_ += n;
  sum_ += static_cast<__uint128_t>(v) * n;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

void Histogram::Merge(const Histogram& o) {
  if (o.count_ == 0) return;
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

void Histogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

uint64_t Histogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t low = BucketLow(i), high = BucketHigh(i);
      const uint64_t mid = low + (high - low) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace parley::bench
