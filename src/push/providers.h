// The push providers behind one interface: each turns a notification into a
// request to its service and classifies the answer (sent, retry later, drop,
// or the device token is dead).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "push/http.h"
#include "push/push.h"
#include "store/store.h"

namespace parley::push {

// What one push says; sender and preview are empty when --push-preview hides them.
struct Notification {
  std::string user_id;
  std::string conversation_id;
  std::string sender;
  std::string preview;
  uint32_t count = 1;
};

enum class Outcome { kSent, kRetry, kDrop, kUnregistered };

struct Delivery {
  Outcome outcome = Outcome::kSent;
  std::string detail;          // for logs: status and reason
  int64_t retry_after_ms = 0;  // kRetry: the service's Retry-After, if any
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual Delivery Send(const store::DeviceRecord& device, const Notification& n) = 0;
};

// The configured providers (one per platform, or none).
class Providers {
 public:
  static Result<std::unique_ptr<Providers>> Create(const PushOptions& options, const Clock& clock);
  ~Providers();
  // Null when the platform is not configured on this server.
  Provider* For(std::string_view platform) const;
  // Aborts requests in flight (shutdown).
  void Cancel() { cancel_ = true; }

 private:
  explicit Providers(const PushOptions& options);
  std::atomic<bool> cancel_{false};
  HttpSender http_;
  std::unique_ptr<Provider> apns_, fcm_, webhook_;
};

std::unique_ptr<Provider> MakeWebhookProvider(const WebhookConfig& config, const HttpSender& http,
                                              bool allow_private_urls);
Result<std::unique_ptr<Provider>> MakeFcmProvider(const FcmConfig& config, const HttpSender& http,
                                                  const Clock& clock);
Result<std::unique_ptr<Provider>> MakeApnsProvider(const ApnsConfig& config, const HttpSender& http,
                                                   const Clock& clock);

// --- shared by the providers (notification.cc) ---

struct AlertText {
  std::string title;
  std::string body;
};
// The visible text of a push: title the sender (or the app name), body the
// preview or "N new messages".
AlertText MakeAlertText(const Notification& n);
// The APNs collapse id of a conversation (≤ 64 bytes, as APNs requires).
std::string CollapseId(std::string_view conversation_id);
// Retry classification common to all providers: transport errors, 429 and
// 5xx are retried; 2xx is sent; other statuses are left to the provider.
std::optional<Delivery> CommonOutcome(const HttpReply& reply);
// Full-jitter exponential backoff: uniform in [0, min(max_ms, base_ms * 2^attempt)].
int64_t BackoffDelayMs(uint32_t attempt, int64_t base_ms, int64_t max_ms, std::mt19937_64& rng);

}  // namespace parley::push
