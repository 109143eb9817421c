// The typed suite for the push records every Store implementation keeps:
// devices (and their moving between users), push jobs, the push outbox
// written atomically with a message, and per-user conversation mutes.
#include <algorithm>

#include "store/store_test_fixture.h"

namespace parley::store {
namespace {

template <typename Factory>
using StorePushTest = StoreTest<Factory>;
TYPED_TEST_SUITE(StorePushTest, StoreFactories);

DeviceRecord Device(std::string user, std::string id, std::string token,
                    std::string platform = "fcm") {
  DeviceRecord d;
  d.user_id = std::move(user);
  d.device_id = std::move(id);
  d.platform = std::move(platform);
  d.token = std::move(token);
  d.created_at = 1000;
  return d;
}

TYPED_TEST(StorePushTest, PutsListsAndDeletesDevices) {
  Store& s = *this->store_;
  auto put = s.PutDevice(Device("alice", "d1", "tok-1"));
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_FALSE(put->existed);
  EXPECT_FALSE(put->displaced.has_value());
  DeviceRecord hook = Device("alice", "d2", "", "webhook");
  hook.url = "https://push.example.com/p";
  hook.app_id = "com.example";
  ASSERT_TRUE(s.PutDevice(hook).ok());

  auto listed = s.ListDevices("alice");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  auto got = s.GetDevice("alice", "d2");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->url, "https://push.example.com/p");
  EXPECT_EQ(got->app_id, "com.example");
  EXPECT_TRUE(s.ListDevices("bob")->empty());

  EXPECT_EQ(s.DeleteDevice("bob", "d1").code(), Code::kNotFound);  // not bob's
  ASSERT_TRUE(s.DeleteDevice("alice", "d1").ok());
  EXPECT_EQ(s.DeleteDevice("alice", "d1").code(), Code::kNotFound);
  EXPECT_EQ(s.GetDevice("alice", "d1").status().code(), Code::kNotFound);
  EXPECT_EQ(s.ListDevices("alice")->size(), 1u);
  // The token is free again: another user registers it as new.
  auto again = s.PutDevice(Device("bob", "d3", "tok-1"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->displaced.has_value());
}

TYPED_TEST(StorePushTest, ATokenRegisteredByAnotherUserMovesToIt) {
  Store& s = *this->store_;
  ASSERT_TRUE(s.PutDevice(Device("alice", "d1", "shared-token")).ok());
  auto same = s.PutDevice(Device("alice", "dX", "shared-token"));
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->existed);
  EXPECT_EQ(same->stored.device_id, "d1");  // nothing changed

  auto moved = s.PutDevice(Device("bob", "d2", "shared-token"));
  ASSERT_TRUE(moved.ok());
  ASSERT_TRUE(moved->displaced.has_value());
  EXPECT_EQ(moved->displaced->user_id, "alice");
  EXPECT_TRUE(s.ListDevices("alice")->empty());
  ASSERT_EQ(s.ListDevices("bob")->size(), 1u);
  // The same token on another platform is another target.
  auto apns = s.PutDevice(Device("alice", "d3", "shared-token", "apns"));
  ASSERT_TRUE(apns.ok());
  EXPECT_FALSE(apns->displaced.has_value());
  EXPECT_EQ(s.ListDevices("bob")->size(), 1u);

  this->Reopen();
  EXPECT_EQ(this->store_->ListDevices("bob")->front().device_id, "d2");
  EXPECT_EQ(this->store_->ListDevices("alice")->size(), 1u);
}

TYPED_TEST(StorePushTest, PushJobsPersistAcrossReopen) {
  PushJobRecord job;
  job.job_id = "job-1";
  job.user_id = "bob";
  job.device_id = "d1";
  job.conversation_id = "g:1";
  job.sender = "alice";
  job.preview = "hello";
  job.count = 3;
  job.last_seq = 9;
  job.created_at = 100;
  job.due_at = 200;
  job.attempts = 2;
  ASSERT_TRUE(this->store_->PutPushJob(job).ok());
  PushJobRecord other = job;
  other.job_id = "job-2";
  ASSERT_TRUE(this->store_->PutPushJob(other).ok());
  ASSERT_TRUE(this->store_->DeletePushJob("job-2").ok());
  this->Reopen();
  auto jobs = this->store_->ListPushJobs();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  const PushJobRecord& j = jobs->front();
  EXPECT_EQ(j.job_id, "job-1");
  EXPECT_EQ(j.sender, "alice");
  EXPECT_EQ(j.preview, "hello");
  EXPECT_EQ(j.count, 3u);
  EXPECT_EQ(j.last_seq, 9u);
  EXPECT_EQ(j.due_at, 200);
  EXPECT_EQ(j.attempts, 2u);
  EXPECT_EQ(this->store_->PutPushJob(PushJobRecord{}).code(), Code::kBadRequest);  // no id
}

TYPED_TEST(StorePushTest, OutboxIsWrittenWithTheMessageOnly) {
  ASSERT_TRUE(this->AppendSync(this->Create("g", ConversationKind::kGroup, {"alice", "bob"})).ok());
  AppendRequest plain = this->Message("g", "alice", "no push");
  ASSERT_TRUE(this->AppendSync(plain).ok());
  AppendRequest pushed = this->Message("g", "alice", "push me", "cmid-1");
  pushed.push_outbox = true;
  auto stored = this->AppendSync(pushed);
  ASSERT_TRUE(stored.ok());
  // A duplicate stores nothing, so it marks nothing either.
  auto duplicate = this->AppendSync(pushed);
  ASSERT_TRUE(duplicate.ok());
  ASSERT_TRUE(duplicate->duplicate_of.has_value());
  // A refused append marks nothing.
  AppendRequest refused = this->Message("g", "mallory", "not a member");
  refused.require_member = "mallory";
  refused.push_outbox = true;
  EXPECT_EQ(this->AppendSync(refused).status().code(), Code::kForbidden);

  this->Reopen();
  auto outbox = this->store_->ListPushOutbox();
  ASSERT_TRUE(outbox.ok());
  ASSERT_EQ(outbox->size(), 1u);
  EXPECT_EQ(outbox->front().first, "g");
  EXPECT_EQ(outbox->front().second, stored->entry.seq);
  ASSERT_TRUE(this->store_->DeletePushOutbox("g", stored->entry.seq).ok());
  EXPECT_TRUE(this->store_->ListPushOutbox()->empty());
}

TYPED_TEST(StorePushTest, MutesArePerUserAndConversation) {
  Store& s = *this->store_;
  EXPECT_FALSE(*s.IsMuted("alice", "g:1"));
  ASSERT_TRUE(s.SetMuted("alice", "g:1", true).ok());
  EXPECT_TRUE(*s.IsMuted("alice", "g:1"));
  EXPECT_FALSE(*s.IsMuted("bob", "g:1"));
  EXPECT_FALSE(*s.IsMuted("alice", "g:2"));
  this->Reopen();
  EXPECT_TRUE(*this->store_->IsMuted("alice", "g:1"));
  ASSERT_TRUE(this->store_->SetMuted("alice", "g:1", false).ok());
  EXPECT_FALSE(*this->store_->IsMuted("alice", "g:1"));
}

}  // namespace
}  // namespace parley::store
