#include "common/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace parley {

namespace {
constexpr size_t kPruneAbove = 100'000;  // buckets kept before idle ones are dropped
}

RateLimiter::RateLimiter(const Clock& clock, double rate, double burst)
    : clock_(clock), rate_per_ms_(rate / 1000.0), burst_(std::max(burst, 1.0)) {}

int64_t RateLimiter::Acquire(std::string_view key) {
  int64_t now = clock_.SteadyMs();
  std::lock_guard lock(mu_);
  if (buckets_.size() > kPruneAbove) PruneLocked(now);
  auto [it, inserted] = buckets_.try_emplace(std::string(key), Bucket{burst_, now});
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + (now - b.updated_ms) * rate_per_ms_);
  b.updated_ms = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  if (rate_per_ms_ <= 0) return 60'000;
  return static_cast<int64_t>(std::ceil((1.0 - b.tokens) / rate_per_ms_));
}

Status RateLimiter::Admit(std::string_view key, std::string message) {
  int64_t wait = Acquire(key);
  if (wait == 0) return Status::Ok();
  return RateLimited(std::move(message)).WithRetryAfter(wait);
}

void RateLimiter::PruneLocked(int64_t now) {
  // A bucket that would be full again carries no state worth keeping.
  std::erase_if(buckets_, [&](const auto& kv) {
    return kv.second.tokens + (now - kv.second.updated_ms) * rate_per_ms_ >= burst_;
  });
}

}  // namespace parley
