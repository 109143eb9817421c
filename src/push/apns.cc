// APNs provider API over HTTP/2: POST {endpoint}/3/device/{token} with a
// token-based ES256 provider JWT (key id, team id), renewed every 50 minutes
// (Apple refuses tokens older than an hour and too-frequent renewals).
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <mutex>

#include "push/jwt.h"
#include "push/providers.h"

namespace parley::push {
namespace {

namespace json = boost::json;

constexpr int64_t kTokenRefreshMs = 50 * 60 * 1000;

std::string ApnsReason(const std::string& body) {
  boost::system::error_code ec;
  json::value parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) return "";
  const json::value* reason = parsed.get_object().if_contains("reason");
  return reason != nullptr && reason->is_string() ? std::string(reason->get_string()) : "";
}

class ApnsProvider final : public Provider {
 public:
  ApnsProvider(PrivateKey key, const ApnsConfig& config, const HttpSender& http, const Clock& clock)
      : key_(std::move(key)), config_(config), http_(http), clock_(clock) {}

  Delivery Send(const store::DeviceRecord& device, const Notification& n) override {
    Result<std::string> jwt = ProviderToken();
    if (!jwt.ok()) return {Outcome::kDrop, "APNs token: " + jwt.status().message(), 0};
    HttpPost post;
    post.url = config_.endpoint + "/3/device/" + device.token;
    post.http2 = true;
    post.body = json::serialize(Payload(n));
    post.headers = {"authorization: bearer " + *jwt,
                    "apns-topic: " + (device.app_id.empty() ? config_.topic : device.app_id),
                    "apns-push-type: alert",
                    "apns-priority: 10",
                    "apns-collapse-id: " + CollapseId(n.conversation_id),
                    "content-type: application/json"};
    HttpReply reply = http_.Post(post);
    if (auto common = CommonOutcome(reply)) return *common;
    std::string reason = ApnsReason(reply.body);
    std::string detail = "HTTP " + std::to_string(reply.status) + " " + reason;
    if (reply.status == 410 || reason == "BadDeviceToken" || reason == "Unregistered") {
      return {Outcome::kUnregistered, detail, 0};
    }
    if (reply.status == 403 &&
        (reason == "ExpiredProviderToken" || reason == "InvalidProviderToken")) {
      ForgetToken();
      return {Outcome::kRetry, detail, 0};
    }
    return {Outcome::kDrop, detail, 0};
  }

 private:
  static json::object Payload(const Notification& n) {
    AlertText text = MakeAlertText(n);
    json::object out{{"aps",
                      {{"alert", {{"title", text.title}, {"body", text.body}}},
                       {"sound", "default"},
                       {"thread-id", n.conversation_id}}},
                     {"conversation_id", n.conversation_id},
                     {"count", n.count}};
    if (!n.sender.empty()) out["sender"] = n.sender;
    return out;
  }

  Result<std::string> ProviderToken() {
    std::lock_guard lock(mu_);
    int64_t now = clock_.NowMs();
    if (!token_.empty() && now - issued_at_ms_ < kTokenRefreshMs) return token_;
    Result<std::string> jwt = SignJwt(key_, json::object{{"kid", config_.key_id}},
                                      json::object{{"iss", config_.team_id}, {"iat", now / 1000}});
    if (!jwt.ok()) return jwt.status();
    token_ = *jwt;
    issued_at_ms_ = now;
    return token_;
  }

  void ForgetToken() {
    std::lock_guard lock(mu_);
    token_.clear();
  }

  const PrivateKey key_;
  const ApnsConfig config_;
  const HttpSender& http_;
  const Clock& clock_;
  std::mutex mu_;
  std::string token_;         // guarded by mu_
  int64_t issued_at_ms_ = 0;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<Provider>> MakeApnsProvider(const ApnsConfig& config, const HttpSender& http,
                                                   const Clock& clock) {
  if (config.key_id.empty() || config.team_id.empty() || config.topic.empty()) {
    return BadRequest("APNs needs --push-apns-key-id, --push-apns-team-id and --push-apns-topic");
  }
  Result<PrivateKey> key = PrivateKey::FromFile(config.key_file);
  if (!key.ok()) return key.status();
  if (!key->is_ec()) return BadRequest(config.key_file + ": not an EC P-256 (.p8) key");
  return std::unique_ptr<Provider>(
      std::make_unique<ApnsProvider>(std::move(*key), config, http, clock));
}

}  // namespace parley::push
