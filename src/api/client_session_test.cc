#include "api/client_session.h"

#include <gtest/gtest.h>

#include "api/router.h"
#include "gateway/testing/recording_peer.h"

namespace parley::api {
namespace {

using gateway::testing::RecordingPeer;

std::shared_ptr<const std::string> F(std::string s) { return std::make_shared<const std::string>(s); }

TEST(ClientSessionTest, NewSessionsHoldLiveFramesUntilTheFirstFrame) {
  auto peer = std::make_shared<RecordingPeer>("alice");
  ClientSession s(peer, 0);
  s.Send(F("ready"), 0);
  s.Send(F("live-v9"), 9);  // would get ahead of the sync the client is about to send
  EXPECT_EQ(peer->Frames(), (std::vector<std::string>{"ready"}));
  ASSERT_TRUE(s.BeginSync());
  s.EndSync({"v8", "v9"}, F("synced"), 9, false);
  EXPECT_EQ(peer->Frames(), (std::vector<std::string>{"ready", "v8", "v9", "synced"}));
}

TEST(ClientSessionTest, LiveFramesPassWhenNoSyncRuns) {
  auto peer = std::make_shared<RecordingPeer>("alice");
  ClientSession s(peer, 0);
  s.Send(F("held"), 1);
  s.ReleaseInitialHold();  // the first frame was not a sync
  EXPECT_EQ(peer->Frames(), (std::vector<std::string>{"held"}));
  peer->Clear();
  s.Send(F("m1"), 1);
  s.Send(F("ack"), 0);
  EXPECT_EQ(peer->Frames(), (std::vector<std::string>{"m1", "ack"}));
}

TEST(ClientSessionTest, FramesDuringSyncAreHeldAndDeduplicated) {
  auto peer = std::make_shared<RecordingPeer>("alice");
  ClientSession s(peer, 0);
  ASSERT_TRUE(s.BeginSync());
  EXPECT_FALSE(s.BeginSync());  // one at a time
  s.Send(F("live-v5"), 5);      // also in the sync page below
  s.Send(F("live-v7"), 7);      // newer than the sync's cursor
  s.Send(F("pong"), 0);         // not an entry: never held
  s.EndSync({"sync-v4", "sync-v5"}, F("synced"), /*cursor=*/6, /*more=*/false);
  EXPECT_EQ(peer->Frames(),
            (std::vector<std::string>{"pong", "sync-v4", "sync-v5", "synced", "live-v7"}));
  s.Send(F("late-v6"), 6);  // covered by the sync: dropped
  s.Send(F("live-v8"), 8);
  EXPECT_EQ(peer->Frames().back(), "live-v8");
  EXPECT_EQ(peer->Frames().size(), 6u);
}

TEST(ClientSessionTest, MorePagesWithholdLiveFramesUntilCaughtUp) {
  auto peer = std::make_shared<RecordingPeer>("alice");
  ClientSession s(peer, 0);
  ASSERT_TRUE(s.BeginSync());
  s.Send(F("live-v50"), 50);
  s.EndSync({"v1"}, F("synced-more"), 1, /*more=*/true);
  s.Send(F("live-v51"), 51);  // withheld: the next page will carry it
  EXPECT_EQ(peer->Frames(), (std::vector<std::string>{"v1", "synced-more"}));
  ASSERT_TRUE(s.BeginSync());
  s.EndSync({"v50", "v51"}, F("synced"), 51, false);
  s.Send(F("live-v52"), 52);
  EXPECT_EQ(peer->Frames(), (std::vector<std::string>{"v1", "synced-more", "v50", "v51", "synced",
                                                  "live-v52"}));
}

TEST(RouterTest, MatchesParamsAndTellsUnknownFromWrongMethod) {
  Router<int> router;
  router.Add("GET", "/v1/conversations/{id}/messages", 1);
  router.Add("POST", "/v1/groups/{id}/members", 2);
  auto m = router.Find("GET", "/v1/conversations/d:a:b/messages");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(*m.handler, 1);
  EXPECT_EQ(m.params.at("id"), "d:a:b");
  auto wrong = router.Find("DELETE", "/v1/conversations/x/messages");
  EXPECT_EQ(wrong.handler, nullptr);
  EXPECT_TRUE(wrong.method_not_allowed);
  auto unknown = router.Find("GET", "/v1/nothing");
  EXPECT_EQ(unknown.handler, nullptr);
  EXPECT_FALSE(unknown.method_not_allowed);
  EXPECT_EQ(router.Find("GET", "/v1/conversations/x/messages/extra").handler, nullptr);
}

}  // namespace
}  // namespace parley::api
