// Token buckets keyed by a string (a user id, an address): the one rate
// limiter of the project, for sends, logins, registrations and handshakes.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/status.h"

namespace parley {

class RateLimiter {
 public:
  // `rate` tokens per second refill a bucket of `burst` tokens.
  RateLimiter(const Clock& clock, double rate, double burst);
  // `per_min` tokens a minute, a burst of half a minute's worth.
  static RateLimiter PerMinute(const Clock& clock, double per_min) {
    return RateLimiter(clock, per_min / 60.0, per_min / 2);
  }

  // Takes one token for `key`. Returns 0 when allowed, else the milliseconds
  // until a token will be available (for Retry-After).
  int64_t Acquire(std::string_view key);
  // Acquire as a Status: Ok, or RateLimited(message) with the wait as its Retry-After.
  Status Admit(std::string_view key, std::string message);

 private:
  struct Bucket {
    double tokens;
    int64_t updated_ms;
  };
  void PruneLocked(int64_t now);

  const Clock& clock_;
  const double rate_per_ms_;
  const double burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
};

}  // namespace parley
