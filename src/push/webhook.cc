// Webhook pushes (a push gateway in the style of a Matrix push gateway): a
// POST of {"user_id","conversation_id","count","sender"?,"preview"?,"token"?}
// to the device's URL, signed with X-Parley-Signature: sha256=HMAC(secret, body).
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "push/jwt.h"
#include "push/providers.h"

namespace parley::push {
namespace {

class WebhookProvider final : public Provider {
 public:
  WebhookProvider(const WebhookConfig& config, const HttpSender& http, bool allow_private_urls)
      : secret_(config.secret), http_(http), allow_private_urls_(allow_private_urls) {}

  Delivery Send(const store::DeviceRecord& device, const Notification& n) override {
    boost::json::object body{
        {"user_id", n.user_id}, {"conversation_id", n.conversation_id}, {"count", n.count}};
    if (!n.sender.empty()) body["sender"] = n.sender;
    if (!n.preview.empty()) body["preview"] = n.preview;
    if (!device.token.empty()) body["token"] = device.token;
    HttpPost post;
    post.url = device.url;
    post.body = boost::json::serialize(body);
    post.headers = {"Content-Type: application/json",
                    "X-Parley-Signature: sha256=" + HmacSha256Hex(secret_, post.body)};
    post.public_only = !allow_private_urls_;
    HttpReply reply = http_.Post(post);
    if (auto common = CommonOutcome(reply)) return *common;
    std::string detail = "HTTP " + std::to_string(reply.status);
    // 410 Gone: the gateway no longer knows this device.
    if (reply.status == 410) return {Outcome::kUnregistered, detail, 0};
    return {Outcome::kDrop, detail, 0};
  }

 private:
  const std::string secret_;
  const HttpSender& http_;
  const bool allow_private_urls_;
};

}  // namespace

std::unique_ptr<Provider> MakeWebhookProvider(const WebhookConfig& config, const HttpSender& http,
                                              bool allow_private_urls) {
  return std::make_unique<WebhookProvider>(config, http, allow_private_urls);
}

}  // namespace parley::push
