#include "push/providers.h"

namespace parley::push {

Providers::Providers(const PushOptions& options)
    : http_(options.request_timeout_ms, options.ca_file, cancel_) {}

Providers::~Providers() = default;

Result<std::unique_ptr<Providers>> Providers::Create(const PushOptions& options,
                                                     const Clock& clock) {
  std::unique_ptr<Providers> out(new Providers(options));
  if (!options.webhook.secret.empty()) {
    out->webhook_ = MakeWebhookProvider(options.webhook, out->http_, options.allow_private_urls);
  }
  if (!options.fcm.credentials_file.empty()) {
    auto fcm = MakeFcmProvider(options.fcm, out->http_, clock);
    if (!fcm.ok()) return fcm.status();
    out->fcm_ = std::move(*fcm);
  }
  if (!options.apns.key_file.empty()) {
    auto apns = MakeApnsProvider(options.apns, out->http_, clock);
    if (!apns.ok()) return apns.status();
    out->apns_ = std::move(*apns);
  }
  return out;
}

Provider* Providers::For(std::string_view platform) const {
  if (platform == "apns") return apns_.get();
  if (platform == "fcm") return fcm_.get();
  if (platform == "webhook") return webhook_.get();
  return nullptr;
}

}  // namespace parley::push
