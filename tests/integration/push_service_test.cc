// The push component in process, with a real RocksDB store and the fake
// providers, where a black-box test cannot reach: a crash between the
// message's commit and the planning of its pushes (the outbox), and the
// lifetimes of the provider tokens under a FakeClock (APNs JWT renewed every
// 50 minutes, FCM access token cached until shortly before it expires).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <future>

#include "common/scheduler.h"
#include "directory/session_directory.h"
#include "presence/local_presence.h"
#include "push/push.h"
#include "store/rocksdb/rocksdb_store.h"
#include "testing/fake_push.h"
#include "testing/helpers.h"

namespace parley::push {
namespace {

using testing::FakePushProviders;
namespace json = boost::json;
constexpr auto kWait = std::chrono::seconds(10);

class PushServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake_->ok()) << fake_->error();
    fake_->Reset();
    std::string pattern = (std::filesystem::temp_directory_path() / "parley_push_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    OpenStore();
  }
  void TearDown() override {
    if (push_) push_->Stop();
    timers_.Stop();
    push_.reset();
    presence_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void OpenStore() {
    store_.reset();  // the previous store holds the directory's lock
    auto store = store::OpenRocksDbStore(dir_, {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  PushOptions Options() {
    PushOptions o;
    o.coalesce_ms = 0;
    o.presence_grace_ms = 0;
    o.allow_private_urls = true;
    o.ca_file = fake_->tls_cert();
    o.webhook.secret = "s";
    o.fcm.credentials_file = fake_->fcm_credentials();
    o.fcm.endpoint = fake_->HttpUrl("");
    o.apns.key_file = fake_->apns_key();
    o.apns.key_id = std::string(FakePushProviders::kApnsKeyId);
    o.apns.team_id = std::string(FakePushProviders::kApnsTeamId);
    o.apns.topic = std::string(FakePushProviders::kApnsTopic);
    o.apns.endpoint = "https://127.0.0.1:" + std::to_string(fake_->apns_port());
    return o;
  }

  void StartPush() {
    presence_ = std::make_unique<presence::LocalPresence>(
        clock_, timers_, [](std::function<void()> f) { f(); }, presence::PresenceHooks{}, 0,
        metrics_);
    auto push = PushService::Create({*store_, directory_, *presence_, timers_, clock_, metrics_},
                                    Options());
    ASSERT_TRUE(push.ok()) << push.status().ToString();
    push_ = std::move(*push);
    ASSERT_TRUE(push_->Start().ok());
  }

  store::EntryRecord Store(const std::string& conversation_id, const std::string& sender,
                           const std::string& content, bool outbox) {
    store::AppendRequest r;
    r.entry.conversation_id = conversation_id;
    r.entry.sender = sender;
    r.entry.type = "text";
    r.entry.content = content;
    r.entry.ts = clock_.NowMs();
    r.entry.message_id = ++message_id_;
    r.push_outbox = outbox;
    store::ConversationRecord created;
    created.created_by = sender;
    r.create_if_missing = created;
    for (std::string user : {std::string("alice"), std::string("bob")}) {
      store::MemberRecord m;
      m.user_id = user;
      r.add_members.push_back(m);
    }
    auto done = std::make_shared<std::promise<Result<store::AppendResult>>>();
    auto future = done->get_future();
    store_->Append(std::move(r),
                   [done](Result<store::AppendResult> result) { done->set_value(result); });
    auto result = future.get();
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? result->entry : store::EntryRecord{};
  }

  FakePushProviders* const fake_ = &testing::SharedFakePushProviders();
  std::string dir_;
  FakeClock clock_;
  MetricsRegistry metrics_;
  TimerThread timers_;
  directory::LocalDirectory directory_;
  store::StorePtr store_;
  std::unique_ptr<presence::LocalPresence> presence_;
  std::unique_ptr<PushService> push_;
  uint64_t message_id_ = 0;
};

TEST_F(PushServiceTest, AMessageStoredBeforeACrashIsPushedAfterTheRestart) {
  store::DeviceRecord hook;
  hook.device_id = "dev-1";
  hook.user_id = "bob";
  hook.platform = "webhook";
  hook.url = fake_->HttpUrl("/hook/crash");
  ASSERT_TRUE(store_->PutDevice(hook).ok());
  // The message commits with its outbox mark, and the process dies before
  // the push service ever sees it (no service is running).
  store::EntryRecord entry = Store("d:alice:bob", "alice", "stored, not planned", true);
  store_->Close();
  OpenStore();
  ASSERT_EQ(store_->ListPushOutbox()->size(), 1u);

  StartPush();  // recovery plans it
  auto pushes = fake_->WaitFor("/hook/crash", 1, kWait);
  ASSERT_EQ(pushes.size(), 1u);
  json::object body = json::parse(testing::Str(pushes[0], "body")).as_object();
  EXPECT_EQ(testing::Str(body, "conversation_id"), "d:alice:bob");
  EXPECT_EQ(testing::Int(body, "count"), 1);
  EXPECT_TRUE(store_->ListPushOutbox()->empty());
  EXPECT_EQ(entry.seq, 1u);
}

TEST_F(PushServiceTest, ApnsProviderTokenIsRenewedEvery50Minutes) {
  StartPush();
  ASSERT_TRUE(push_
                  ->RegisterDevice(
                      "bob", R"({"platform":"apns","token":")" + std::string(64, 'b') + R"("})")
                  .ok());
  auto push_at = [&](int n) {
    push_->OnStored(Store("d:alice:bob", "alice", "m", false), store::ConversationKind::kDirect);
    auto pushes = fake_->WaitFor("/3/device/", n, kWait);
    EXPECT_EQ(pushes.size(), static_cast<size_t>(n));
    return pushes.empty() ? json::object{} : testing::ObjectAt(pushes.back(), "jwt");
  };
  json::object first = push_at(1);
  EXPECT_EQ(testing::Str(testing::ObjectAt(first, "claims"), "iss"),
            FakePushProviders::kApnsTeamId);
  clock_.Advance(49 * 60 * 1000);
  json::object reused = push_at(2);
  EXPECT_EQ(testing::Int(testing::ObjectAt(reused, "claims"), "iat"),
            testing::Int(testing::ObjectAt(first, "claims"), "iat"));
  clock_.Advance(2 * 60 * 1000);  // 51 minutes after the first
  json::object renewed = push_at(3);
  EXPECT_EQ(testing::Int(testing::ObjectAt(renewed, "claims"), "iat"),
            testing::Int(testing::ObjectAt(first, "claims"), "iat") + 51 * 60);
  EXPECT_TRUE(renewed.at("valid").as_bool());
}

TEST_F(PushServiceTest, FcmAccessTokenIsCachedUntilShortlyBeforeItExpires) {
  StartPush();
  ASSERT_TRUE(push_->RegisterDevice("bob", R"({"platform":"fcm","token":"bob-phone"})").ok());
  auto push_n = [&](int n) {
    push_->OnStored(Store("d:alice:bob", "alice", "m", false), store::ConversationKind::kDirect);
    EXPECT_EQ(fake_->WaitFor("messages:send", n, kWait).size(), static_cast<size_t>(n));
  };
  push_n(1);
  clock_.Advance(58 * 60 * 1000);  // the token lives 3600 s
  push_n(2);
  EXPECT_EQ(fake_->RequestsTo("/token").size(), 1u);
  clock_.Advance(90 * 1000);  // within a minute of expiry: renewed
  push_n(3);
  EXPECT_EQ(fake_->RequestsTo("/token").size(), 2u);
  auto sends = fake_->RequestsTo("messages:send");
  EXPECT_EQ(testing::Str(testing::ObjectAt(sends.back(), "headers"), "authorization"),
            "Bearer fake-access-2");
}

}  // namespace
}  // namespace parley::push
