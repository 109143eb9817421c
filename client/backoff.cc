#include "client/backoff.h"

#include <algorithm>

namespace parley::client {

Backoff::Backoff(BackoffOptions options, uint64_t seed) : options_(options), rng_(seed) {
  if (options_.base.count() < 1) options_.base = std::chrono::milliseconds(1);
  if (options_.cap < options_.base) options_.cap = options_.base;
}

std::chrono::milliseconds Backoff::Ceiling(int n) const {
  int64_t ceiling = options_.base.count();
  for (int i = 0; i < n && ceiling < options_.cap.count(); ++i) ceiling *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(ceiling, options_.cap.count()));
}

std::optional<std::chrono::milliseconds> Backoff::Next(std::chrono::milliseconds floor) {
  if (options_.max_attempts > 0 && attempts_ >= options_.max_attempts) return std::nullopt;
  std::uniform_int_distribution<int64_t> jitter(0, Ceiling(attempts_).count());
  ++attempts_;
  return std::max(floor, std::chrono::milliseconds(0)) + std::chrono::milliseconds(jitter(rng_));
}

}  // namespace parley::client
