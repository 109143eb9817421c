// Reconnect delays: exponential backoff with full jitter. Attempt n waits a
// uniformly random time in [0, min(cap, base * 2^n)], so clients dropped at
// the same moment (a crashed gateway) spread their reconnects over the window
// instead of coming back together. A server-given floor (Retry-After, a 1013
// "try again later" close) is honoured by waiting floor + the jittered delay:
// at least as long as asked, and still spread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace parley::client {

struct BackoffOptions {
  std::chrono::milliseconds base{500};
  std::chrono::milliseconds cap{30'000};
  int max_attempts = 0;  // consecutive failed attempts before giving up; 0: never give up
  // The floor used after a 1013 close, which carries no Retry-After.
  std::chrono::milliseconds overload_floor{1'000};
};

class Backoff {
 public:
  explicit Backoff(BackoffOptions options, uint64_t seed = std::random_device{}());

  // The delay before the next attempt, or nullopt once max_attempts have been
  // used. `floor` (e.g. Retry-After) is a minimum wait added to the jitter.
  std::optional<std::chrono::milliseconds> Next(
      std::chrono::milliseconds floor = std::chrono::milliseconds(0));
  // After a successful connection: the next failure starts from `base` again.
  void Reset() { attempts_ = 0; }
  int attempts() const { return attempts_; }
  // The upper bound of the jitter window for attempt `n` (0-based).
  std::chrono::milliseconds Ceiling(int n) const;
  const BackoffOptions& options() const { return options_; }

 private:
  BackoffOptions options_;
  std::mt19937_64 rng_;
  int attempts_ = 0;
};

}  // namespace parley::client
