// A small HDR-style log-linear histogram of non-negative integers (the bench
// records nanoseconds). Values below 128 are exact; above, every power of two
// is split into 128 linear sub-buckets, so a recorded value is known to within
// 1/128 (< 0.8 %) of itself. Fixed memory (7,424 counters), no allocation on
// Record, not thread-safe: one per thread, merged at the end.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace parley::bench {

class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;   // 128
  static constexpr size_t kBuckets = (64 - kSubBits + 1) * kSub;  // 7424

  Histogram();

  void Record(uint64_t value) { RecordN(value, 1); }
  void RecordN(uint64_t value, uint64_t n);
  void Merge(const Histogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0; }

  // The value at percentile p (0-100]: the smallest recorded value v such that
  // at least p % of the values are <= v, reported as the middle of v's bucket
  // (clamped to the exact min and max). 0 when empty.
  uint64_t Percentile(double p) const;

  // Bucket index of a value, and the [low, high] range a bucket covers.
  static size_t IndexOf(uint64_t value);
  static uint64_t BucketLow(size_t index);
  static uint64_t BucketHigh(size_t index);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  __uint128_t sum_ = 0;
};

}  // namespace parley::bench
