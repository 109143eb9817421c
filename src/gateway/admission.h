// Admission control of the connection layer: how many connections, how many
// of them still opening (TLS handshake, first request, WebSocket auth), how
// fast one address may open new ones, and how many WebSocket sessions one
// user may hold on this node. Decided before a connection costs more than a
// socket, so that a reconnect storm degrades into refusals with Retry-After
// instead of a queue without bound. Thread-safe; no sockets here.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/rate_limiter.h"
#include "common/status.h"

namespace parley::gateway {

struct AdmissionOptions {
  size_t max_connections = 100'000;  // open TCP connections, HTTP and WebSocket
  size_t max_handshakes = 1'000;     // connections still opening, at once
  double handshake_rate_per_address = 20;  // new connections and upgrades per second; 0: no limit
  double handshake_burst_per_address = 100;
  size_t max_sessions_per_user = 100;  // WebSocket sessions per user on this node; 0: no cap
};

// The seconds a refused client should wait before retrying.
inline constexpr int64_t kBusyRetryAfterMs = 1000;

class Admission {
 public:
  // One unit of a count, given back when the Slot is destroyed or reset.
  class Slot {
   public:
    Slot() = default;
    explicit Slot(std::function<void()> release) : release_(std::move(release)) {}
    Slot(Slot&& other) noexcept : release_(std::exchange(other.release_, nullptr)) {}
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        reset();
        release_ = std::exchange(other.release_, nullptr);
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { reset(); }
    void reset() {
      if (auto release = std::exchange(release_, nullptr)) release();
    }
    bool held() const { return release_ != nullptr; }

   private:
    std::function<void()> release_;
  };

  Admission(const Clock& clock, AdmissionOptions options);
  const AdmissionOptions& options() const { return options_; }

  // A new TCP connection; nullopt while max_connections are open.
  std::optional<Slot> OpenConnection();
  // The opening phase of a new connection or upgrade from `address`:
  // RateLimited (with the wait) once the address spent its budget,
  // Unavailable (retry in kBusyRetryAfterMs) while max_handshakes are open.
  Result<Slot> BeginHandshake(std::string_view address);
  // An authenticated WebSocket session of `user`: Conflict beyond
  // max_sessions_per_user.
  Result<Slot> OpenSession(const std::string& user);

  size_t open_connections() const { return connections_.load(); }
  size_t open_handshakes() const { return handshakes_.load(); }

 private:
  // Takes one of `count` unless `max` are taken (0: unbounded).
  static std::optional<Slot> Take(std::atomic<size_t>& count, size_t max);

  const AdmissionOptions options_;
  std::atomic<size_t> connections_{0};
  std::atomic<size_t> handshakes_{0};
  std::optional<RateLimiter> per_address_;  // unset: no per-address limit
  std::mutex sessions_mu_;
  std::unordered_map<std::string, size_t> sessions_;  // per user, guarded by sessions_mu_
};

}  // namespace parley::gateway
