// Fan-out to the online members only (docs/architecture.md "Groups and
// channels"): a conversation with at least --sparse-fanout-min-members members,
// fewer than a quarter of them online, is delivered by walking the session
// directory instead of the member list. The result must be the same as the
// full walk: every online member's every session gets each entry once, in seq
// order, from the seq it joined at; non-members get nothing; offline members
// get everything through sync.
#include <gtest/gtest.h>

#include "testing/helpers.h"

namespace parley::testing {
namespace {

class SparseFanoutTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override { return {"--sparse-fanout-min-members", "8"}; }
};

struct Member {
  std::string id, token;
};

// Live entries of `conv` until seq `last` (or a timeout); other frames are skipped.
std::vector<int64_t> SeqsUntil(WsClient& ws, const std::string& conv, int64_t last) {
  std::vector<int64_t> seqs;
  while (seqs.empty() || seqs.back() < last) {
    auto f = ws.ReadUntil(
        [&](const json::object& o) {
          return (Op(o) == "message" || Op(o) == "event") && Str(o, "conversation_id") == conv;
        },
        10s);
    if (!f) break;
    seqs.push_back(Int(*f, "seq"));
  }
  return seqs;
}

std::vector<int64_t> Range(int64_t first, int64_t last) {
  std::vector<int64_t> out;
  for (int64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

TEST_F(SparseFanoutTest, OnlineMembersGetEverythingOnceInOrderAndOfflineOnesBySync) {
  // 30 members (the owner included) and 5 online users (3 members, a non-member and
  // one added later): 5 * 4 < 30 walks the directory.
  std::vector<Member> members;
  for (int i = 0; i < 31; ++i) {
    std::string id = UniqueUser("sp");
    members.push_back({id, RegisterAndLogin(http(), id)});
    ASSERT_FALSE(members.back().token.empty());
  }
  Member late = members.back();  // added later, while online
  members.pop_back();
  std::vector<std::string> ids;
  for (size_t i = 1; i < members.size(); ++i) ids.push_back(members[i].id);
  std::string c = CreateGroup(http(), members[0].token, "Sparse", ids, "channel");
  ASSERT_FALSE(c.empty());  // seq 1: created

  auto owner = ConnectReady(port(), members[0].token);
  auto bob = ConnectReady(port(), members[1].token);
  auto bob2 = ConnectReady(port(), members[1].token);  // a second session of bob
  auto carol = ConnectReady(port(), members[2].token);
  std::string outsider_id = UniqueUser("out");
  auto outsider = ConnectReady(port(), RegisterAndLogin(http(), outsider_id));
  auto newcomer = ConnectReady(port(), late.token);

  for (int i = 0; i < 5; ++i) {  // seqs 2..6
    auto ack = SendToConversation(*owner, c, "m" + std::to_string(i), UniqueCmid());
    ASSERT_TRUE(ack && Op(*ack) == "ack") << (ack ? Dump(*ack) : "timeout");
  }
  auto add = http().Post("/v1/groups/" + c + "/members", json::object{{"user_id", late.id}},
                         members[0].token);
  ASSERT_EQ(add.status, 200) << add.Describe();  // seq 7: member_added
  for (int i = 5; i < 8; ++i) {  // seqs 8..10
    auto ack = SendToConversation(*owner, c, "m" + std::to_string(i), UniqueCmid());
    ASSERT_TRUE(ack && Op(*ack) == "ack") << (ack ? Dump(*ack) : "timeout");
  }

  EXPECT_EQ(SeqsUntil(*bob, c, 10), Range(2, 10));
  EXPECT_EQ(SeqsUntil(*bob2, c, 10), Range(2, 10));
  EXPECT_EQ(SeqsUntil(*carol, c, 10), Range(2, 10));
  EXPECT_EQ(SeqsUntil(*newcomer, c, 10), Range(7, 10)) << "from its own add event on";
  json::object got;
  EXPECT_TRUE(outsider->ExpectNoFrame(300ms, &got)) << "a non-member got " << Dump(got);

  // An offline member reads the whole stream through sync.
  auto synced = InConversation(HttpSyncAll(http(), members[5].token), c);
  std::vector<int64_t> seqs;
  for (const auto& e : synced) seqs.push_back(Int(e, "seq"));
  EXPECT_EQ(seqs, Range(1, 10));
  // The entries went the online-only way (the full walk would give the same frames).
  EXPECT_GE(ScrapeMetric(http(), "parley_fanout_online_only_total").value_or(0), 9);
}

}  // namespace
}  // namespace parley::testing
