// The device registry and the wiring of the dispatcher and providers.
#include <algorithm>
#include <cctype>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/crypto.h"
#include "protocol/json_util.h"
#include "push/address_policy.h"
#include "push/dispatcher.h"
#include "push/providers.h"
#include "push/push.h"

namespace parley::push {
namespace {

constexpr size_t kMaxDevicesPerUser = 20;
constexpr size_t kMaxApnsToken = 200;  // APNs tokens are 64 hex digits today
constexpr size_t kMaxFcmToken = 1024;  // FCM registration tokens are ~160 characters
constexpr size_t kMaxWebhookToken = 1024;
constexpr size_t kMaxUrl = 2048;
constexpr size_t kMaxAppId = 255;

bool OnlyChars(std::string_view s, std::string_view extra) {
  return std::all_of(s.begin(), s.end(), [extra](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

Status CheckToken(store::DeviceRecord& d) {
  if (d.platform == "apns") {
    if (d.token.size() < 32 || !std::all_of(d.token.begin(), d.token.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c));
        })) {
      return BadRequest("an apns token is 32-200 hex digits");
    }
    std::transform(d.token.begin(), d.token.end(), d.token.begin(), [](char c) {
      return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    });
  } else if (d.platform == "fcm" && !OnlyChars(d.token, "-_:.")) {
    return BadRequest("an fcm token has only letters, digits and - _ : .");
  } else if (d.platform == "webhook" && !OnlyChars(d.token, "-_:.~+/=")) {
    return BadRequest("a webhook token has only letters, digits and - _ : . ~ + / =");
  }
  return Status::Ok();
}

}  // namespace

Result<Preview> ParsePreview(std::string_view name) {
  if (name == "none") return Preview::kNone;
  if (name == "sender") return Preview::kSender;
  if (name == "full") return Preview::kFull;
  return BadRequest("push preview must be none, sender or full");
}

std::string DeviceJson(const store::DeviceRecord& d) {
  boost::json::object o{
      {"device_id", d.device_id}, {"platform", d.platform}, {"created_at", d.created_at}};
  if (!d.token.empty()) o["token"] = d.token;
  if (!d.url.empty()) o["url"] = d.url;
  if (!d.app_id.empty()) o["app_id"] = d.app_id;
  return boost::json::serialize(o);
}

Result<std::unique_ptr<PushService>> PushService::Create(PushDeps deps, PushOptions options) {
  auto providers = Providers::Create(options, deps.clock);
  if (!providers.ok()) return providers.status();
  return std::unique_ptr<PushService>(
      new PushService(deps, std::move(options), std::move(*providers)));
}

PushService::PushService(PushDeps deps, PushOptions options, std::unique_ptr<Providers> providers)
    : deps_(deps),
      options_(std::move(options)),
      providers_(std::move(providers)),
      dispatcher_(std::make_unique<Dispatcher>(deps, options_, *providers_)) {}

PushService::~PushService() { Stop(); }

bool PushService::enabled() const { return AnyProviderConfigured(options_); }

Status PushService::Start() { return dispatcher_->Recover(); }

void PushService::OnStored(const store::EntryRecord& entry, store::ConversationKind) {
  dispatcher_->OnStored(entry);
}

void PushService::Stop() {
  providers_->Cancel();  // requests in flight end now; their jobs stay persisted
  dispatcher_->Stop();
}

Result<store::DeviceRecord> PushService::RegisterDevice(const std::string& user_id,
                                                        std::string_view body) {
  auto object = protocol::ParseObject(body);
  if (!object.ok()) return object.status();
  store::DeviceRecord d;
  d.user_id = user_id;
  PARLEY_RETURN_IF_ERROR(MoveInto(d.platform, protocol::GetString(*object, "platform", true, 16)));
  if (d.platform != "apns" && d.platform != "fcm" && d.platform != "webhook") {
    return BadRequest("platform must be apns, fcm or webhook");
  }
  if (providers_->For(d.platform) == nullptr) {
    return BadRequest(d.platform + " pushes are not configured on this server");
  }
  bool webhook = d.platform == "webhook";
  size_t max_token = d.platform == "apns" ? kMaxApnsToken
                     : webhook            ? kMaxWebhookToken
                                          : kMaxFcmToken;
  PARLEY_RETURN_IF_ERROR(
      MoveInto(d.token, protocol::GetString(*object, "token", !webhook, max_token)));
  PARLEY_RETURN_IF_ERROR(MoveInto(d.url, protocol::GetString(*object, "url", webhook, kMaxUrl)));
  PARLEY_RETURN_IF_ERROR(
      MoveInto(d.app_id, protocol::GetString(*object, "app_id", false, kMaxAppId)));
  if (!webhook && d.token.empty()) return BadRequest("token must not be empty");
  if (!webhook && !d.url.empty()) return BadRequest("url is only for webhook devices");
  if (!OnlyChars(d.app_id, "-_.")) return BadRequest("app_id has only letters, digits and - _ .");
  PARLEY_RETURN_IF_ERROR(CheckToken(d));
  if (webhook) PARLEY_RETURN_IF_ERROR(CheckWebhookUrl(d.url, options_.allow_private_urls, kMaxUrl));

  auto existing = deps_.store.ListDevices(user_id);
  if (!existing.ok()) return existing.status();
  for (const store::DeviceRecord& e : *existing) {
    // Registering the same target again changes nothing.
    if (e.platform == d.platform && e.token == d.token && e.url == d.url) return e;
  }
  if (existing->size() >= kMaxDevicesPerUser) {
    return Conflict("too many devices (at most " + std::to_string(kMaxDevicesPerUser) + ")");
  }
  d.device_id = RandomToken(12);
  d.created_at = deps_.clock.NowMs();
  auto put = deps_.store.PutDevice(d);
  if (!put.ok()) return put.status();
  if (put->existed) return put->stored;  // a concurrent registration of the same target
  dispatcher_->ForgetDevices(user_id);
  if (put->displaced) dispatcher_->ForgetDevices(put->displaced->user_id);
  return put->stored;
}

Result<std::vector<store::DeviceRecord>> PushService::ListDevices(const std::string& user_id) {
  return deps_.store.ListDevices(user_id);
}

Status PushService::DeleteDevice(const std::string& user_id, const std::string& device_id) {
  PARLEY_RETURN_IF_ERROR(deps_.store.DeleteDevice(user_id, device_id));
  dispatcher_->ForgetDevices(user_id);
  return Status::Ok();
}

Status PushService::SetMuted(const std::string& user_id, const std::string& conversation_id,
                             bool muted) {
  return deps_.store.SetMuted(user_id, conversation_id, muted);
}

Result<bool> PushService::IsMuted(const std::string& user_id, const std::string& conversation_id) {
  return deps_.store.IsMuted(user_id, conversation_id);
}

}  // namespace parley::push
