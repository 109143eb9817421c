// FCM HTTP v1: POST {endpoint}/v1/projects/{project}/messages:send with an
// OAuth2 access token, obtained from the service-account key by the JWT bearer
// grant (RFC 7523, RS256) and cached until shortly before it expires.
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <mutex>
#include <sstream>

#include "push/jwt.h"
#include "push/providers.h"

namespace parley::push {
namespace {

namespace json = boost::json;

constexpr std::string_view kScope = "https://www.googleapis.com/auth/firebase.messaging";
constexpr std::string_view kDefaultTokenUrl = "https://oauth2.googleapis.com/token";
constexpr int64_t kAssertionLifetimeS = 3600;
constexpr int64_t kRefreshMarginMs = 60'000;  // renew a minute before the token expires

struct ServiceAccount {
  std::string client_email;
  std::string private_key_id;
  std::string project_id;
  std::string token_uri;
  std::optional<PrivateKey> key;
};

std::string Field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

Result<ServiceAccount> ReadServiceAccount(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return BadRequest("cannot read FCM credentials " + path);
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value parsed = json::parse(text.str(), ec);
  if (ec || !parsed.is_object()) return BadRequest(path + ": not a JSON object");
  const json::object& o = parsed.get_object();
  ServiceAccount account{Field(o, "client_email"), Field(o, "private_key_id"),
                         Field(o, "project_id"), Field(o, "token_uri"), std::nullopt};
  if (account.client_email.empty()) return BadRequest(path + ": client_email is missing");
  Result<PrivateKey> key = PrivateKey::FromPem(Field(o, "private_key"));
  if (!key.ok() || !key->is_rsa()) return BadRequest(path + ": private_key is not an RSA PEM key");
  account.key = std::move(*key);
  return account;
}

// The FCM error code ("UNREGISTERED", "INVALID_ARGUMENT", ...) of an error body.
std::string FcmErrorCode(const std::string& body) {
  boost::system::error_code ec;
  json::value parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) return "";
  const json::value* error = parsed.get_object().if_contains("error");
  if (error == nullptr || !error->is_object()) return "";
  if (const json::value* details = error->get_object().if_contains("details");
      details != nullptr && details->is_array()) {
    for (const json::value& d : details->get_array()) {
      if (d.is_object() && !Field(d.get_object(), "errorCode").empty()) {
        return Field(d.get_object(), "errorCode");
      }
    }
  }
  return Field(error->get_object(), "status");
}

class FcmProvider final : public Provider {
 public:
  FcmProvider(ServiceAccount account, const FcmConfig& config, const HttpSender& http,
              const Clock& clock)
      : account_(std::move(account)),
        project_(config.project_id.empty() ? account_.project_id : config.project_id),
        token_url_(!config.token_url.empty()     ? config.token_url
                   : !account_.token_uri.empty() ? account_.token_uri
                                                 : std::string(kDefaultTokenUrl)),
        send_url_(config.endpoint + "/v1/projects/" + project_ + "/messages:send"),
        http_(http),
        clock_(clock) {}

  Status Validate() const {
    if (project_.empty())
      return BadRequest("FCM: no project id (--push-fcm-project or the key's project_id)");
    return Status::Ok();
  }

  Delivery Send(const store::DeviceRecord& device, const Notification& n) override {
    Result<std::string> token = AccessToken();
    if (!token.ok()) return {Outcome::kRetry, "FCM token: " + token.status().message(), 0};
    HttpPost post;
    post.url = send_url_;
    post.body = json::serialize(Message(device, n));
    post.headers = {"Content-Type: application/json; charset=UTF-8",
                    "Authorization: Bearer " + *token};
    HttpReply reply = http_.Post(post);
    if (auto common = CommonOutcome(reply)) return *common;
    std::string code = FcmErrorCode(reply.body);
    std::string detail = "HTTP " + std::to_string(reply.status) + " " + code;
    if (reply.status == 404 || code == "UNREGISTERED") return {Outcome::kUnregistered, detail, 0};
    if (reply.status == 401) {  // the access token was revoked or expired early
      ForgetToken();
      return {Outcome::kRetry, detail, 0};
    }
    return {Outcome::kDrop, detail, 0};
  }

 private:
  static json::object Message(const store::DeviceRecord& device, const Notification& n) {
    AlertText text = MakeAlertText(n);
    json::object data{{"conversation_id", n.conversation_id}, {"count", std::to_string(n.count)}};
    if (!n.sender.empty()) data["sender"] = n.sender;
    return {
        {"message",
         {{"token", device.token},
          {"notification", {{"title", text.title}, {"body", text.body}}},
          {"data", std::move(data)},
          {"android", {{"collapse_key", CollapseId(n.conversation_id)}, {"priority", "high"}}}}}};
  }

  Result<std::string> AccessToken() {
    std::lock_guard lock(mu_);
    if (!access_token_.empty() && clock_.NowMs() < expires_at_ms_ - kRefreshMarginMs) {
      return access_token_;
    }
    int64_t now_s = clock_.NowMs() / 1000;
    json::object header{{"typ", "JWT"}};
    if (!account_.private_key_id.empty()) header["kid"] = account_.private_key_id;
    json::object claims{{"iss", account_.client_email},
                        {"scope", kScope},
                        {"aud", token_url_},
                        {"iat", now_s},
                        {"exp", now_s + kAssertionLifetimeS}};
    Result<std::string> assertion = SignJwt(*account_.key, std::move(header), claims);
    if (!assertion.ok()) return assertion.status();
    HttpPost post;
    post.url = token_url_;
    post.headers = {"Content-Type: application/x-www-form-urlencoded"};
    // The assertion is base64url and dots: nothing to percent-encode.
    post.body =
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + *assertion;
    HttpReply reply = http_.Post(post);
    if (reply.status != 200) {
      return Unavailable(reply.status == 0 ? reply.error
                                           : "HTTP " + std::to_string(reply.status) + " " +
                                                 reply.body.substr(0, 200));
    }
    boost::system::error_code ec;
    json::value parsed = json::parse(reply.body, ec);
    if (ec || !parsed.is_object()) return Unavailable("token response is not JSON");
    std::string token = Field(parsed.get_object(), "access_token");
    const json::value* expires_in = parsed.get_object().if_contains("expires_in");
    if (token.empty() || expires_in == nullptr || !expires_in->is_number()) {
      return Unavailable("token response lacks access_token/expires_in");
    }
    access_token_ = token;
    expires_at_ms_ = clock_.NowMs() + static_cast<int64_t>(expires_in->to_number<double>() * 1000);
    spdlog::info("event=fcm_token_refreshed expires_in_s={}",
                 (expires_at_ms_ - clock_.NowMs()) / 1000);
    return access_token_;
  }

  void ForgetToken() {
    std::lock_guard lock(mu_);
    access_token_.clear();
  }

  const ServiceAccount account_;
  const std::string project_;
  const std::string token_url_;
  const std::string send_url_;
  const HttpSender& http_;
  const Clock& clock_;
  std::mutex mu_;              // one token refresh at a time
  std::string access_token_;   // guarded by mu_
  int64_t expires_at_ms_ = 0;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<Provider>> MakeFcmProvider(const FcmConfig& config, const HttpSender& http,
                                                  const Clock& clock) {
  Result<ServiceAccount> account = ReadServiceAccount(config.credentials_file);
  if (!account.ok()) return account.status();
  auto provider = std::make_unique<FcmProvider>(std::move(*account), config, http, clock);
  PARLEY_RETURN_IF_ERROR(provider->Validate());
  return std::unique_ptr<Provider>(std::move(provider));
}

}  // namespace parley::push
