// The configuration of push notifications (--push-* flags, see
// docs/operations.md). Dependency-free so that app/config can fill it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace parley::push {

enum class Preview { kNone, kSender, kFull };  // what a push reveals of the message

struct WebhookConfig {
  std::string secret;  // HMAC-SHA256 key of X-Parley-Signature; empty: webhooks disabled
};

struct FcmConfig {
  std::string credentials_file;  // service-account JSON key; empty: FCM disabled
  std::string project_id;        // default: the key's project_id
  std::string endpoint = "https://fcm.googleapis.com";
  std::string token_url;  // default: the key's token_uri
};

struct ApnsConfig {
  std::string key_file;  // .p8 (PKCS#8 EC P-256 key); empty: APNs disabled
  std::string key_id;
  std::string team_id;
  std::string topic;  // the app's bundle id (a device's app_id overrides it)
  std::string endpoint = "https://api.push.apple.com";
};

struct PushOptions {
  int64_t coalesce_ms = 1000;        // messages to a device within this window: one push
  int64_t presence_grace_ms = 5000;  // the presence grace period (a user in it is not offline yet)
  Preview preview = Preview::kSender;
  bool allow_private_urls = false;  // webhook URLs on loopback/private addresses
  size_t concurrency = 4;           // provider requests in flight
  uint32_t max_attempts = 8;        // then a job is dropped
  int64_t backoff_base_ms = 1000;   // retry n waits uniform [0, min(max, base * 2^n)]
  int64_t backoff_max_ms = 300'000;
  int64_t request_timeout_ms = 10'000;
  std::string ca_file;  // CA bundle for provider TLS instead of the system CAs (a test fake)
  WebhookConfig webhook;
  FcmConfig fcm;
  ApnsConfig apns;
};

// True when at least one provider is configured (push is enabled).
inline bool AnyProviderConfigured(const PushOptions& o) {
  return !o.webhook.secret.empty() || !o.fcm.credentials_file.empty() || !o.apns.key_file.empty();
}

}  // namespace parley::push
