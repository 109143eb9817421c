// Push notifications (SPEC 3 and 5.4, issue #6): the device registry, the
// per-conversation mute, and pushes to offline members through the webhook,
// FCM (HTTP/1.1 fake with an OAuth2 token endpoint) and APNs (HTTP/2 + TLS
// fake) providers. The fakes (tests/testing/push_fake.js) record what they
// receive and verify the JWTs with Node's crypto; the tests check headers,
// claims, signatures, payloads, counts and collapse ids.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <map>
#include <set>
#include <thread>

#include "testing/fake_push.h"
#include "testing/helpers.h"

namespace parley::testing {
namespace {

constexpr std::string_view kSecret = "webhook-secret-for-tests";
constexpr auto kWait = std::chrono::seconds(10);
const std::string kApnsToken(64, 'a');

// Computed here with OpenSSL directly, independently of the server's code.
std::string HmacHex(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  static const char* kDigits = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kDigits[digest[i] >> 4];
    hex += kDigits[digest[i] & 15];
  }
  return hex;
}

json::object Header(const json::object& request) { return ObjectAt(request, "headers"); }
// A boolean field as "true"/"false", "absent" when missing or not a boolean.
std::string Flag(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_bool()) return "absent";
  return v->get_bool() ? "true" : "false";
}
json::object Body(const json::object& request) {
  json::value v = json::parse(Str(request, "body"));
  return v.is_object() ? v.get_object() : json::object{};
}

// One fake for every test of a suite; each test starts from a clean record.
class PushTest : public ServerTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake_->ok()) << fake_->error();
    fake_->Reset();
    ServerTest::SetUp();
  }

  std::vector<std::string> ExtraArgs() override {
    std::vector<std::string> args = fake_->ServerArgs(kSecret);
    args.push_back("--push-coalesce-ms");
    args.push_back(std::to_string(coalesce_ms_));
    for (std::string a :
         {"--presence-grace-ms", "700", "--push-backoff-base-ms", "50", "--push-backoff-max-ms",
          "200", "--send-rate", "1000", "--send-burst", "1000"}) {
      args.push_back(a);
    }
    args.insert(args.end(), more_args_.begin(), more_args_.end());
    return args;
  }

  HttpResponse Register(const User& u, const json::object& body) {
    return http().Post("/v1/devices", body, u.token);
  }
  // Registers a device and returns its id ("" and a failure unless 201).
  std::string MustRegister(const User& u, const json::object& body) {
    HttpResponse r = Register(u, body);
    EXPECT_EQ(r.status, 201) << r.Describe();
    return Str(r.object(), "device_id");
  }
  std::string Webhook(const User& u) {
    return MustRegister(u, {{"platform", "webhook"}, {"url", fake_->HttpUrl("/hook/" + u.id)}});
  }
  std::vector<json::object> Devices(const User& u) {
    HttpResponse r = http().Get("/v1/devices", u.token);
    EXPECT_EQ(r.status, 200) << r.Describe();
    return ToObjects(ArrayAt(r.object(), "devices"));
  }
  // A 1:1 message over HTTP; returns its conversation id.
  std::string Send(const User& from, const User& to, std::string_view content) {
    HttpResponse r = http().Post(
        "/v1/messages",
        json::object{{"to", to.id}, {"content", content}, {"client_msg_id", UniqueCmid()}},
        from.token);
    EXPECT_EQ(r.status, 201) << r.Describe();
    return Str(r.object(), "conversation_id");
  }
  void SendTo(const User& from, std::string_view conversation_id, std::string_view content) {
    HttpResponse r = http().Post("/v1/messages",
                                 json::object{{"conversation_id", conversation_id},
                                              {"content", content},
                                              {"client_msg_id", UniqueCmid()}},
                                 from.token);
    EXPECT_EQ(r.status, 201) << r.Describe();
  }
  double Metric(std::string_view name) { return ScrapeMetric(http(), name).value_or(-1); }
  // Waits until metric `name` reaches `at_least`.
  bool WaitMetric(std::string_view name, double at_least) {
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Metric(name) >= at_least) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }
  // Waits until the server has no WebSocket session left (a close was processed).
  void WaitNoSessions() { ASSERT_TRUE(WaitUntilMetricIs("parley_connections", 0)); }
  bool WaitUntilMetricIs(std::string_view name, double value) {
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Metric(name) == value) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  FakePushProviders* const fake_ = &SharedFakePushProviders();
  std::vector<std::string> more_args_ = {"--push-allow-private-urls"};
  int coalesce_ms_ = 500;
};

// --- the device registry ---

TEST_F(PushTest, RegistersListsAndDeletesDevices) {
  User alice = NewUser("alice");
  HttpResponse r = Register(
      alice, {{"platform", "apns"}, {"token", kApnsToken}, {"app_id", "com.example.other"}});
  ASSERT_EQ(r.status, 201) << r.Describe();
  std::string apns = Str(r.object(), "device_id");
  EXPECT_FALSE(apns.empty());
  EXPECT_EQ(Str(r.object(), "platform"), "apns");
  std::string fcm = MustRegister(alice, {{"platform", "fcm"}, {"token", "fcm:token-1"}});
  std::string hook = Webhook(alice);
  // Registering the same target again is idempotent.
  EXPECT_EQ(MustRegister(alice, {{"platform", "fcm"}, {"token", "fcm:token-1"}}), fcm);

  std::vector<json::object> devices = Devices(alice);
  ASSERT_EQ(devices.size(), 3u);
  std::set<std::string> ids;
  for (const auto& d : devices) ids.insert(Str(d, "device_id"));
  EXPECT_EQ(ids, (std::set<std::string>{apns, fcm, hook}));

  EXPECT_EQ(http().Delete("/v1/devices/" + fcm, alice.token).status, 204);
  EXPECT_EQ(Devices(alice).size(), 2u);
  HttpResponse again = http().Delete("/v1/devices/" + fcm, alice.token);
  EXPECT_EQ(again.status, 404);
  EXPECT_TRUE(again.IsErrorShape());
}

TEST_F(PushTest, DevicesNeedAuthAndBelongToTheirUser) {
  User alice = NewUser("alice"), bob = NewUser("bob");
  std::string hook = Webhook(alice);
  EXPECT_EQ(http().Post("/v1/devices", json::object{{"platform", "fcm"}, {"token", "t"}}).status,
            401);
  EXPECT_EQ(http().Get("/v1/devices").status, 401);
  EXPECT_EQ(http().Delete("/v1/devices/" + hook).status, 401);
  EXPECT_EQ(http().Get("/v1/devices", "not-a-token").status, 401);
  // Another user's device: 404, as if it did not exist, and it stays.
  HttpResponse r = http().Delete("/v1/devices/" + hook, bob.token);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.ErrorCode(), "not_found");
  EXPECT_EQ(Devices(alice).size(), 1u);
  EXPECT_TRUE(Devices(bob).empty());
}

TEST_F(PushTest, ATokenRegisteredByAnotherUserMovesToIt) {
  User alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  MustRegister(alice, {{"platform", "fcm"}, {"token", "phone-changes-hands"}});
  MustRegister(bob, {{"platform", "fcm"}, {"token", "phone-changes-hands"}});
  EXPECT_TRUE(Devices(alice).empty());
  ASSERT_EQ(Devices(bob).size(), 1u);
  // Pushes for alice no longer reach the phone; bob's do.
  Send(carol, alice, "to alice");
  Send(carol, bob, "to bob");
  auto sends = fake_->WaitFor("messages:send", 1, kWait);
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_EQ(Str(ObjectAt(ObjectAt(Body(sends[0]), "message"), "data"), "conversation_id"),
            "d:" + std::min(bob.id, carol.id) + ":" + std::max(bob.id, carol.id));
}

TEST_F(PushTest, BadDeviceInputIsRefused) {
  User alice = NewUser("alice");
  auto expect_400 = [&](const std::string& body, std::string_view why) {
    HttpResponse r = http().Request("POST", "/v1/devices", body, alice.token);
    EXPECT_EQ(r.status, 400) << why << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "bad_request") << why;
  };
  expect_400("not json", "malformed body");
  expect_400("[1,2]", "not an object");
  expect_400(R"({"token":"abc"})", "missing platform");
  expect_400(R"({"platform":"blackberry","token":"abc"})", "unknown platform");
  expect_400(R"({"platform":7,"token":"abc"})", "platform not a string");
  expect_400(R"({"platform":"fcm"})", "fcm without token");
  expect_400(R"({"platform":"fcm","token":""})", "empty token");
  expect_400(R"({"platform":"apns"})", "apns without token");
  expect_400(R"({"platform":"apns","token":"not-hex-not-hex-not-hex-not-hex-not-hex"})",
             "apns not hex");
  expect_400(R"({"platform":"apns","token":"abcd"})", "apns too short");
  expect_400(R"({"platform":"webhook"})", "webhook without url");
  expect_400(R"({"platform":"webhook","url":"ftp://127.0.0.1/x"})", "not http(s)");
  expect_400(R"j({"platform":"webhook","url":"javascript:alert(1)"})j", "not http(s)");
  expect_400(R"({"platform":"webhook","url":"no url at all"})", "not a url");
expect_400(R"({"platform":"fcm","token":"t","url":"http://127.0.0.1/"})", "url on fcm");
expect_400(R"({"platform":"fcm","token":"bad token with spaces"})", "fcm charset");
expect_400(R"({"platform":"fcm","token":"t","app_id":"a b"})", "app_id charset");
json::object huge{{"platform", "fcm"}, {"token", std::string(5000, 'x')}};
expect_400(json::serialize(huge), "absurdly long fcm token");
json::object huge_apns{{"platform", "apns"}, {"token", std::string(4096, 'a')}};
expect_400(json::serialize(huge_apns), "absurdly long apns token");
json::object long_url{{"platform", "webhook"},
                      {"url", fake_->HttpUrl("/" + std::string(3000, 'u'))}};
expect_400(json::serialize(long_url), "absurdly long url");
EXPECT_TRUE(Devices(alice).empty());  // nothing of it was stored
}

TEST_F(PushTest, ConversationSettingsMute) {
  User alice = NewUser("alice"), bob = NewUser("bob"), eve = NewUser("eve");
  std::string conversation = Send(alice, bob, "hi");
  std::string path = "/v1/conversations/" + conversation + "/settings";
  HttpResponse got = http().Get(path, bob.token);
  ASSERT_EQ(got.status, 200) << got.Describe();
  EXPECT_EQ(Str(got.object(), "conversation_id"), conversation);
  EXPECT_EQ(Flag(got.object(), "muted"), "false");
  HttpResponse put = http().Request("PUT", path, R"({"muted":true})", bob.token);
  ASSERT_EQ(put.status, 200) << put.Describe();
  EXPECT_EQ(Flag(put.object(), "muted"), "true");
  EXPECT_EQ(Flag(http().Get(path, bob.token).object(), "muted"), "true");
  EXPECT_EQ(Flag(http().Get(path, alice.token).object(), "muted"), "false");  // per user

  EXPECT_EQ(http().Request("PUT", path, R"({"muted":"yes"})", bob.token).status, 400);
  EXPECT_EQ(http().Request("PUT", path, R"({})", bob.token).status, 400);
  EXPECT_EQ(http().Request("PUT", path, "muted", bob.token).status, 400);
  EXPECT_EQ(http().Request("PUT", path, R"({"muted":true})").status, 401);
  EXPECT_EQ(http().Get(path).status, 401);
  HttpResponse stranger = http().Request("PUT", path, R"({"muted":true})", eve.token);
  EXPECT_EQ(stranger.status, 403);
  EXPECT_EQ(stranger.ErrorCode(), "forbidden");
  EXPECT_EQ(http().Get(path, eve.token).status, 403);
  EXPECT_EQ(http().Get("/v1/conversations/g:nope/settings", bob.token).status, 403);
}

// --- delivery ---

TEST_F(PushTest, OfflineRecipientGetsASignedWebhookPush) {
  User alice = NewUser("alice"), bob = NewUser("bob");
  Webhook(bob);
  std::string conversation = Send(alice, bob, "secret content");
  auto pushes = fake_->WaitFor("/hook/" + bob.id, 1, kWait);
  ASSERT_EQ(pushes.size(), 1u);
  const json::object& push = pushes[0];
  EXPECT_EQ(Str(push, "method"), "POST");
  EXPECT_EQ(Str(Header(push), "content-type"), "application/json");
  std::string body = Str(push, "body");
  EXPECT_EQ(Str(Header(push), "x-parley-signature"), "sha256=" + HmacHex(kSecret, body));
  json::object payload = Body(push);
  EXPECT_EQ(Str(payload, "user_id"), bob.id);
  EXPECT_EQ(Str(payload, "conversation_id"), conversation);
  EXPECT_EQ(Int(payload, "count"), 1);
  EXPECT_EQ(Str(payload, "sender"), alice.id);  // --push-preview=sender (the default)
  EXPECT_FALSE(payload.contains("preview"));    // never the content
  EXPECT_TRUE(WaitMetric("parley_push_sent_total", 1));
}

TEST_F(PushTest, OnlineRecipientGetsNone) {
  User alice = NewUser("alice"), bob = NewUser("bob");
  Webhook(bob);
  auto ws = ConnectReady(port(), bob.token);
  ASSERT_TRUE(ws->IsOpen());
  Send(alice, bob, "live");
  ASSERT_TRUE(WaitMetric("parley_push_skipped_total", 1));      // planned: online, skipped
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // past the coalescing window
  EXPECT_TRUE(fake_->RequestsTo("/hook/").empty());
  EXPECT_EQ(Metric("parley_push_enqueued_total"), 0);
}

TEST_F(PushTest, RecipientThatWentOfflineWithinTheGracePeriodGetsOne) {
  User alice = NewUser("alice"), bob = NewUser("bob");
  Webhook(bob);
  auto ws = ConnectReady(port(), bob.token);
  ws->Close();
  WaitNoSessions();
  Send(alice, bob, "while you were away");  // bob is still "online" (grace) but has no session
  auto pushes = fake_->WaitFor("/hook/" + bob.id, 1, kWait);
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_EQ(Int(Body(pushes[0]), "count"), 1);
}

TEST_F(PushTest, RecipientThatReconnectsWithinTheGracePeriodGetsNone) {
  User alice = NewUser("alice"), bob = NewUser("bob");
  Webhook(bob);
  auto ws = ConnectReady(port(), bob.token);
  ws->Close();
  WaitNoSessions();
  Send(alice, bob, "quick blip");
  // The job is planned (asynchronously) while bob is away; a reconnect before
  // the planner ran would make this the "online: no job" case instead.
  ASSERT_TRUE(WaitMetric("parley_push_enqueued_total", 1));
  auto back = ConnectReady(port(), bob.token);  // before the grace period ends
  ASSERT_TRUE(back->IsOpen());
  ASSERT_TRUE(WaitMetric("parley_push_skipped_total", 1));  // the due job found bob back
  EXPECT_EQ(Metric("parley_push_enqueued_total"), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(fake_->RequestsTo("/hook/").empty());
}

TEST_F(PushTest, BurstCoalescesIntoOnePushWithACountPerConversation) {
  User alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  MustRegister(bob, {{"platform", "apns"}, {"token", kApnsToken}});
  std::string group = CreateGroup(http(), alice.token, "team", {bob.id, carol.id});
  ASSERT_FALSE(group.empty());
  auto ws = ConnectReady(port(), alice.token);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(SendToConversation(*ws, group, "m" + std::to_string(i), UniqueCmid()).has_value());
  }
  std::string direct = Send(alice, bob, "and one direct");
  auto pushes = fake_->WaitFor("/3/device/", 2, kWait);
  ASSERT_EQ(pushes.size(), 2u);
  std::map<std::string, json::object> by_collapse_id;
  for (const auto& p : pushes) by_collapse_id[Str(Header(p), "apns-collapse-id")] = Body(p);
  ASSERT_EQ(by_collapse_id.count(group), 1u);
  ASSERT_EQ(by_collapse_id.count(direct), 1u);
  EXPECT_EQ(Int(by_collapse_id[group], "count"), 4);
  EXPECT_EQ(Str(ObjectAt(ObjectAt(by_collapse_id[group], "aps"), "alert"), "body"),
            "4 new messages");
  EXPECT_EQ(Int(by_collapse_id[direct], "count"), 1);
  EXPECT_TRUE(WaitMetric("parley_push_coalesced_total", 3));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(fake_->RequestsTo("/3/device/").size(), 2u);  // no push per message
}

TEST_F(PushTest, MutedConversationGetsNone) {
  User alice = NewUser("alice"), bob = NewUser("bob");
  Webhook(bob);
  std::string conversation = Send(alice, bob, "first");
  ASSERT_EQ(fake_->WaitFor("/hook/", 1, kWait).size(), 1u);
  std::string path = "/v1/conversations/" + conversation + "/settings";
  ASSERT_EQ(http().Request("PUT", path, R"({"muted":true})", bob.token).status, 200);
  Send(alice, bob, "muted");
  ASSERT_TRUE(WaitMetric("parley_push_skipped_total", 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(fake_->RequestsTo("/hook/").size(), 1u);
  ASSERT_EQ(http().Request("PUT", path, R"({"muted":false})", bob.token).status, 200);
  Send(alice, bob, "unmuted");
  EXPECT_EQ(fake_->WaitFor("/hook/", 2, kWait).size(), 2u);
}

TEST_F(PushTest, FcmPushUsesAnOAuthTokenFromTheServiceAccountKey) {
  User alice = NewUser("alice"), bob = NewUser("bob");
  MustRegister(bob, {{"platform", "fcm"}, {"token", "fcm-device-token:1"}});
  std::string conversation = Send(alice, bob, "hello fcm");
  auto sends = fake_->WaitFor("messages:send", 1, kWait);
  ASSERT_EQ(sends.size(), 1u);

  auto grants = fake_->RequestsTo("/token");
  ASSERT_EQ(grants.size(), 1u);
  const json::object& grant = grants[0];
  EXPECT_EQ(Str(grant, "grant_type"), "urn:ietf:params:oauth:grant-type:jwt-bearer");
  json::object jwt = ObjectAt(grant, "jwt");
  EXPECT_EQ(Flag(jwt, "valid"), "true") << Dump(jwt);  // RS256, verified with the key's public half
  EXPECT_EQ(Str(ObjectAt(jwt, "header"), "alg"), "RS256");
  EXPECT_EQ(Str(ObjectAt(jwt, "header"), "kid"), "fcm-key-1");
  json::object claims = ObjectAt(jwt, "claims");
  EXPECT_EQ(Str(claims, "iss"), FakePushProviders::kFcmClientEmail);
  EXPECT_EQ(Str(claims, "scope"), "https://www.googleapis.com/auth/firebase.messaging");
  EXPECT_EQ(Str(claims, "aud"), fake_->HttpUrl("/token"));  // the key's token_uri
  EXPECT_EQ(Int(claims, "exp") - Int(claims, "iat"), 3600);
  EXPECT_NEAR(Int(claims, "iat"), NowMs() / 1000, 60);

  const json::object& send = sends[0];
  EXPECT_EQ(Str(send, "path"), "/v1/projects/parley-test/messages:send");
  EXPECT_EQ(Str(Header(send), "authorization"), "Bearer fake-access-1");
  json::object message = ObjectAt(Body(send), "message");
  EXPECT_EQ(Str(message, "token"), "fcm-device-token:1");
  EXPECT_EQ(Str(ObjectAt(message, "notification"), "title"), alice.id);
  EXPECT_EQ(Str(ObjectAt(message, "notification"), "body"), "New message");
  EXPECT_EQ(Str(ObjectAt(message, "data"), "conversation_id"), conversation);
  EXPECT_EQ(Str(ObjectAt(message, "data"), "count"), "1");
  EXPECT_EQ(Str(ObjectAt(message, "android"), "collapse_key"), conversation);

  // The access token is cached until it expires.
  Send(alice, bob, "again");
  ASSERT_EQ(fake_->WaitFor("messages:send", 2, kWait).size(), 2u);
  EXPECT_EQ(fake_->RequestsTo("/token").size(), 1u);
  EXPECT_EQ(Str(Header(fake_->RequestsTo("messages:send")[1]), "authorization"),
            "Bearer fake-access-1");
}

TEST_F(PushTest, ApnsPushOverHttp2WithAnEs256ProviderToken) {
  User alice = NewUser("alice"), bob = NewUser("bob");
  MustRegister(bob, {{"platform", "apns"}, {"token", kApnsToken}});
  std::string conversation = Send(alice, bob, "hello apns");
  auto pushes = fake_->WaitFor("/3/device/", 1, kWait);
  ASSERT_EQ(pushes.size(), 1u);
  const json::object& push = pushes[0];
  EXPECT_EQ(Str(push, "http_version"), "2.0");
  EXPECT_EQ(Str(push, "method"), "POST");
  EXPECT_EQ(Str(push, "path"), "/3/device/" + kApnsToken);
  json::object h = Header(push);
  EXPECT_EQ(Str(h, "apns-topic"), FakePushProviders::kApnsTopic);
  EXPECT_EQ(Str(h, "apns-push-type"), "alert");
  EXPECT_EQ(Str(h, "apns-collapse-id"), conversation);
  EXPECT_EQ(Str(h, "apns-priority"), "10");
  EXPECT_EQ(Str(h, "authorization").rfind("bearer ", 0), 0u);
  json::object jwt = ObjectAt(push, "jwt");
  EXPECT_EQ(Flag(jwt, "valid"), "true") << Dump(jwt);  // ES256 over the .p8 key's public half
  EXPECT_EQ(Str(ObjectAt(jwt, "header"), "alg"), "ES256");
  EXPECT_EQ(Str(ObjectAt(jwt, "header"), "kid"), FakePushProviders::kApnsKeyId);
  EXPECT_EQ(Str(ObjectAt(jwt, "claims"), "iss"), FakePushProviders::kApnsTeamId);
  EXPECT_NEAR(Int(ObjectAt(jwt, "claims"), "iat"), NowMs() / 1000, 60);
  json::object payload = Body(push);
  json::object alert = ObjectAt(ObjectAt(payload, "aps"), "alert");
  EXPECT_EQ(Str(alert, "title"), alice.id);
  EXPECT_EQ(Str(alert, "body"), "New message");
  EXPECT_EQ(Str(ObjectAt(payload, "aps"), "thread-id"), conversation);
  EXPECT_EQ(Int(payload, "count"), 1);
}

TEST_F(PushTest, AppIdOverridesTheApnsTopic) {
  User alice = NewUser("alice"), bob = NewUser("bob");
  MustRegister(bob, {{"platform", "apns"}, {"token", kApnsToken}, {"app_id", "com.example.beta"}});
  Send(alice, bob, "beta");
  auto pushes = fake_->WaitFor("/3/device/", 1, kWait);
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_EQ(Str(Header(pushes[0]), "apns-topic"), "com.example.beta");
}

TEST_F(PushTest, ServerErrorsAreRetriedWithBackoff) {
  User alice = NewUser("alice"), bob = NewUser("bob");
  Webhook(bob);
  fake_->Script("/hook/" + bob.id, 503);
  fake_->Script("/hook/" + bob.id, 500);
  Send(alice, bob, "flaky");
  auto attempts = fake_->WaitFor("/hook/" + bob.id, 3, kWait);
  ASSERT_EQ(attempts.size(), 3u);
  for (const auto& a : attempts) EXPECT_EQ(Str(a, "body"), Str(attempts[0], "body"));  // same push
  EXPECT_TRUE(WaitMetric("parley_push_sent_total", 1));
  EXPECT_EQ(Metric("parley_push_retried_total"), 2);
  EXPECT_EQ(Metric("parley_push_failed_total"), 0);
  EXPECT_TRUE(server_->WaitForLog("event=push_retry", kWait));
  EXPECT_NE(server_->Log().find("attempt=2"), std::string::npos);
}

TEST_F(PushTest, ClientErrorsAreDroppedWithoutRetry) {
  User alice = NewUser("alice"), bob = NewUser("bob");
  Webhook(bob);
  fake_->Script("/hook/" + bob.id, 400);
  Send(alice, bob, "bad request");
  ASSERT_TRUE(WaitMetric("parley_push_failed_total", 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(fake_->RequestsTo("/hook/").size(), 1u);
  EXPECT_EQ(Devices(bob).size(), 1u);  // a 400 is not a dead device
}

TEST_F(PushTest, DeadTokensRemoveTheirDevices) {
  User alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol"),
       dave = NewUser("dave");
  MustRegister(bob, {{"platform", "apns"}, {"token", kApnsToken}});
  MustRegister(carol, {{"platform", "fcm"}, {"token", "dead-fcm-token"}});
  Webhook(dave);
  fake_->Script("/3/device/", 410, json::object{{"reason", "Unregistered"}});
  fake_->Script("messages:send", 404,
                json::parse(R"({"error":{"code":404,"status":"NOT_FOUND","details":[)"
                            R"({"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError",)"
                            R"("errorCode":"UNREGISTERED"}]}})"));
  fake_->Script("/hook/" + dave.id, 410);
  Send(alice, bob, "x");
  Send(alice, carol, "x");
  Send(alice, dave, "x");
  ASSERT_TRUE(WaitMetric("parley_push_devices_removed_total", 3));
  EXPECT_TRUE(Devices(bob).empty());
  EXPECT_TRUE(Devices(carol).empty());
  EXPECT_TRUE(Devices(dave).empty());
  // Nothing more is sent to them.
  Send(alice, bob, "y");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(fake_->RequestsTo("/3/device/").size(), 1u);
}

// Messages sent while a user was offline but whose pushes could not be sent
// before a crash are pushed after the restart.
class PushRestartTest : public PushTest {
 protected:
  PushRestartTest() {
    more_args_.insert(more_args_.end(), {"--push-max-attempts", "100"});
    coalesce_ms_ = 2000;  // a restart fits inside the window
  }
};

TEST_F(PushRestartTest, QueuedJobsAreDeliveredAfterKill9) {
  User alice = NewUser("alice"), bob = NewUser("bob");
  Webhook(bob);
  fake_->Script("/hook/" + bob.id, 503, {}, 100000);  // the gateway is down
  Send(alice, bob, "one");
  Send(alice, bob, "two");
  ASSERT_TRUE(WaitMetric("parley_push_retried_total", 1));
  server_->Kill9();
  fake_->Reset();  // the gateway is back
  ASSERT_TRUE(RestartServer()) << server_->LogTail();
  auto pushes = fake_->WaitFor("/hook/" + bob.id, 1, kWait);
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_EQ(Int(Body(pushes[0]), "count"), 2);
  EXPECT_TRUE(WaitMetric("parley_push_sent_total", 1));
  EXPECT_TRUE(WaitUntilMetricIs("parley_push_queue_depth", 0));
}

TEST_F(PushRestartTest, PendingJobsSurviveACleanShutdown) {
  User alice = NewUser("alice"), bob = NewUser("bob");
  Webhook(bob);
  Send(alice, bob, "before shutdown");
  ASSERT_EQ(server_->Stop(), 0);  // inside the coalescing window: nothing sent yet
  EXPECT_TRUE(fake_->RequestsTo("/hook/").empty());
  ASSERT_TRUE(RestartServer()) << server_->LogTail();
  auto pushes = fake_->WaitFor("/hook/" + bob.id, 1, kWait);
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_EQ(Int(Body(pushes[0]), "count"), 1);
}

// --- previews ---

class PushPreviewFullTest : public PushTest {
 protected:
  PushPreviewFullTest() { more_args_.insert(more_args_.end(), {"--push-preview", "full"}); }
};

TEST_F(PushPreviewFullTest, PushesCarryTheContent) {
  User alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  Webhook(bob);
  MustRegister(carol, {{"platform", "apns"}, {"token", kApnsToken}});
  Send(alice, bob, "lunch at noon?");
  Send(alice, carol, "see you");
  auto hooks = fake_->WaitFor("/hook/", 1, kWait);
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(Str(Body(hooks[0]), "preview"), "lunch at noon?");
  EXPECT_EQ(Str(Body(hooks[0]), "sender"), alice.id);
  auto apns = fake_->WaitFor("/3/device/", 1, kWait);
  ASSERT_EQ(apns.size(), 1u);
  json::object alert = ObjectAt(ObjectAt(Body(apns[0]), "aps"), "alert");
  EXPECT_EQ(Str(alert, "title"), alice.id);
  EXPECT_EQ(Str(alert, "body"), "see you");
}

class PushPreviewNoneTest : public PushTest {
 protected:
  PushPreviewNoneTest() { more_args_.insert(more_args_.end(), {"--push-preview", "none"}); }
};

TEST_F(PushPreviewNoneTest, PushesRevealNeitherSenderNorContent) {
  User alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  Webhook(bob);
  MustRegister(carol, {{"platform", "fcm"}, {"token", "carol-phone"}});
  Send(alice, bob, "private");
  Send(alice, carol, "private");
  auto hooks = fake_->WaitFor("/hook/", 1, kWait);
  ASSERT_EQ(hooks.size(), 1u);
  json::object payload = Body(hooks[0]);
  EXPECT_FALSE(payload.contains("sender"));
  EXPECT_FALSE(payload.contains("preview"));
  EXPECT_EQ(Int(payload, "count"), 1);
  auto sends = fake_->WaitFor("messages:send", 1, kWait);
  ASSERT_EQ(sends.size(), 1u);
  json::object message = ObjectAt(Body(sends[0]), "message");
  EXPECT_EQ(Str(ObjectAt(message, "notification"), "title"), "Parley");
  EXPECT_EQ(Str(ObjectAt(message, "notification"), "body"), "New message");
  EXPECT_FALSE(ObjectAt(message, "data").contains("sender"));
  EXPECT_EQ(Str(sends[0], "body").find("private"), std::string::npos);
}

// --- the default: webhooks only to public addresses ---

class PushPublicUrlsTest : public PushTest {
 protected:
  PushPublicUrlsTest() { more_args_.clear(); }  // the default: public webhook URLs only
};

TEST_F(PushPublicUrlsTest, PrivateAddressesAreRefusedByDefault) {
  User alice = NewUser("alice");
  for (std::string url : {fake_->HttpUrl("/hook"), std::string("http://localhost:8080/x"),
                          std::string("http://10.0.0.8/x"), std::string("http://192.168.1.20/x"),
                          std::string("http://169.254.169.254/latest/meta-data"),
                          std::string("http://[::1]:9000/x"), std::string("https://0.0.0.0/")}) {
    HttpResponse r = Register(alice, {{"platform", "webhook"}, {"url", url}});
    EXPECT_EQ(r.status, 400) << url << ": " << r.Describe();
    EXPECT_NE(r.body.find("--push-allow-private-urls"), std::string::npos) << r.body;
  }
  // A public address literal is fine (no request is made at registration).
  EXPECT_EQ(
      Register(alice, {{"platform", "webhook"}, {"url", "https://93.184.216.34/push"}}).status,
      201);
}

class PushDisabledTest : public ServerTest {};

TEST_F(PushDisabledTest, DevicesOfUnconfiguredPlatformsAreRefused) {
  User alice = NewUser("alice");
  for (std::string platform : {"apns", "fcm", "webhook"}) {
    HttpResponse r = http().Post(
        "/v1/devices",
        json::object{
            {"platform", platform}, {"token", kApnsToken}, {"url", "https://93.184.216.34/"}},
        alice.token);
    EXPECT_EQ(r.status, 400) << r.Describe();
    EXPECT_NE(r.body.find("not configured"), std::string::npos) << r.body;
  }
  HttpResponse list = http().Get("/v1/devices", alice.token);
  EXPECT_EQ(list.status, 200);
  EXPECT_TRUE(ArrayAt(list.object(), "devices").empty());
}

}  // namespace
}  // namespace parley::testing
