#include "directory/session_directory.h"

#include <gtest/gtest.h>

#include <set>

#include "gateway/testing/recording_peer.h"

namespace parley::directory {
namespace {

using FakePeer = gateway::testing::RecordingPeer;

TEST(LocalDirectoryTest, TracksSessionsPerUser) {
  LocalDirectory dir;
  auto a1 = std::make_shared<FakePeer>("alice", "s1");
  auto a2 = std::make_shared<FakePeer>("alice", "s2");
  auto b1 = std::make_shared<FakePeer>("bob", "s3");
  EXPECT_EQ(dir.Add(a1), 1u);
  EXPECT_EQ(dir.Add(a2), 2u);
  EXPECT_EQ(dir.Add(b1), 1u);
  EXPECT_EQ(dir.Sessions("alice").size(), 2u);
  EXPECT_EQ(dir.SessionCount(), 3u);
  EXPECT_EQ(dir.UserCount(), 2u);
  std::set<std::string> users;
  dir.ForEachUser([&](const std::string& u) { EXPECT_TRUE(users.insert(u).second) << u; });
  EXPECT_EQ(users, (std::set<std::string>{"alice", "bob"}));
  EXPECT_EQ(dir.Remove(*a1), 1u);
  EXPECT_EQ(dir.Sessions("alice").size(), 1u);
  EXPECT_EQ(dir.Remove(*a2), 0u);
  EXPECT_TRUE(dir.Sessions("alice").empty());
  EXPECT_TRUE(dir.Sessions("nobody").empty());
  EXPECT_EQ(dir.SessionCount(), 1u);
  EXPECT_EQ(dir.UserCount(), 1u) << "a user whose last session left is not online";
}

TEST(LocalDirectoryTest, DeadPeersAreNotReturned) {
  LocalDirectory dir;
  auto keep = std::make_shared<FakePeer>("carol", "s1");
  dir.Add(keep);
  {
    auto gone = std::make_shared<FakePeer>("carol", "s2");
    dir.Add(gone);
  }
  EXPECT_EQ(dir.Sessions("carol").size(), 1u);
  EXPECT_EQ(dir.Remove(*keep), 0u);
  EXPECT_EQ(dir.SessionCount(), 0u);
}

}  // namespace
}  // namespace parley::directory
