#include "gateway/admission.h"

namespace parley::gateway {

Admission::Admission(const Clock& clock, AdmissionOptions options) : options_(options) {
  if (options_.handshake_rate_per_address > 0) {
    per_address_.emplace(clock, options_.handshake_rate_per_address,
                         options_.handshake_burst_per_address);
  }
}

std::optional<Admission::Slot> Admission::Take(std::atomic<size_t>& count, size_t max) {
  if (count.fetch_add(1) >= max && max > 0) {
    count.fetch_sub(1);
    return std::nullopt;
  }
  return Slot([&count] { count.fetch_sub(1); });
}

std::optional<Admission::Slot> Admission::OpenConnection() {
  return Take(connections_, options_.max_connections);
}

Result<Admission::Slot> Admission::BeginHandshake(std::string_view address) {
  if (per_address_) {
    if (int64_t wait_ms = per_address_->Acquire(address); wait_ms > 0) {
      return RateLimited("too many new connections from this address; retry later")
          .WithRetryAfter(wait_ms);
    }
  }
  auto slot = Take(handshakes_, options_.max_handshakes);
  if (!slot) {
    return Unavailable("the server is busy accepting connections; retry later")
        .WithRetryAfter(kBusyRetryAfterMs);
  }
  return std::move(*slot);
}

Result<Admission::Slot> Admission::OpenSession(const std::string& user) {
  std::lock_guard lock(sessions_mu_);
  size_t& open = sessions_[user];
  if (options_.max_sessions_per_user > 0 && open >= options_.max_sessions_per_user) {
    return Conflict("too many sessions for this user (at most " +
                    std::to_string(options_.max_sessions_per_user) +
                    "); close another session first");
  }
  ++open;
  return Slot([this, user] {
    std::lock_guard lock(sessions_mu_);
    auto it = sessions_.find(user);
    if (it != sessions_.end() && --it->second == 0) sessions_.erase(it);
  });
}

}  // namespace parley::gateway
