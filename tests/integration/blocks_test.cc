// Blocks (docs/protocol.md "Blocks"): a blocked user cannot message the
// blocker 1:1, does not see its presence, typing or receipts, cannot add it
// to groups; listing, unknown users, and unblocking restoring all of it.
#include <gtest/gtest.h>

#include "testing/helpers.h"

namespace parley::testing {
namespace {

using Clock = std::chrono::steady_clock;

class BlocksTest : public ServerTest {
 protected:
  static constexpr int kGraceMs = 300;
  std::vector<std::string> ExtraArgs() override {
    return {"--presence-grace-ms", std::to_string(kGraceMs), "--receipt-flush-ms", "100",
            "--send-rate", "100000", "--send-burst", "100000"};
  }
  int Block(const User& who, const std::string& whom) {
    return http().Request("PUT", "/v1/me/blocks/" + whom, "", who.token).status;
  }
  int Unblock(const User& who, const std::string& whom) {
    return http().Delete("/v1/me/blocks/" + whom, who.token).status;
  }
  std::vector<std::string> Blocked(const User& who) {
    auto res = http().Get("/v1/me/blocks", who.token);
    EXPECT_EQ(res.status, 200) << res.Describe();
    std::vector<std::string> out;
    for (auto& v : ArrayAt(res.object(), "users")) out.push_back(v.is_string() ? std::string(v.as_string()) : Dump(v));
    return out;
  }
  // `from` sends `n` 1:1 messages to `to` over HTTP; returns the conversation id.
  std::string SendDirect(const User& from, const User& to, int n) {
    std::string conv;
    for (int i = 0; i < n; ++i) {
      auto res = http().Post("/v1/messages", json::object{{"to", to.id}, {"content", "m" + std::to_string(i)}, {"type", "text"}, {"client_msg_id", UniqueCmid()}}, from.token);
      EXPECT_EQ(res.status, 201) << res.Describe();
      conv = Str(res.object(), "conversation_id");
    }
    return conv;
  }
};

json::object Receipt(const std::string& conv, int64_t up_to) {
  return json::object{{"op", "receipt"}, {"conversation_id", conv}, {"kind", "read"}, {"up_to_seq", up_to}};
}
json::object Typing(const std::string& conv, std::string_view state) {
  return json::object{{"op", "typing"}, {"conversation_id", conv}, {"state", state}};
}
bool Is(const json::object& f, std::string_view op, const std::string& conv, const std::string& user) {
  return Op(f) == op && Str(f, "conversation_id") == conv && Str(f, "user_id") == user;
}
// True if, within `d`, no frame of `op` from `user` arrives (others ignored).
bool NoneFrom(WsClient& ws, std::string_view op, const std::string& user, std::chrono::milliseconds d,
              json::object* got) {
  auto f = ws.ReadUntil([&](auto& f) { return Op(f) == op && Str(f, "user_id") == user; }, d);
  if (f) *got = *f;
  return !f;
}

TEST_F(BlocksTest, BlockedUserCannotMessageTheBlockerUntilUnblocked) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string d = SendDirect(bob, alice, 1);
  ASSERT_FALSE(d.empty());
  EXPECT_TRUE(Blocked(alice).empty());
  ASSERT_EQ(Block(alice, bob.id), 204);
  EXPECT_EQ(Blocked(alice), std::vector<std::string>{bob.id});
  EXPECT_TRUE(Blocked(bob).empty()) << "a block is one-way";
  EXPECT_EQ(Block(alice, bob.id), 204) << "blocking twice";
  EXPECT_EQ(Blocked(alice).size(), 1u);
  EXPECT_EQ(Block(alice, "nobody_" + UniqueUser("x")), 404);

  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  auto err = SendAndAck(*b, alice.id, "blocked?", UniqueCmid());
  ASSERT_TRUE(err);
  EXPECT_EQ(Op(*err), "error") << Dump(*err);
  EXPECT_EQ(Str(*err, "code"), "forbidden");
  EXPECT_EQ(Str(*err, "message"), "you cannot message this user");
  auto by_id = SendToConversation(*b, d, "by conversation id", UniqueCmid());
  ASSERT_TRUE(by_id);
  EXPECT_EQ(Str(*by_id, "code"), "forbidden") << Dump(*by_id);
  auto res = http().Post("/v1/messages", json::object{{"to", alice.id}, {"content", "x"}, {"type", "text"}, {"client_msg_id", UniqueCmid()}}, bob.token);
  EXPECT_EQ(res.status, 403) << res.Describe();
  EXPECT_EQ(Str(ObjectAt(res.object(), "error"), "message"), "you cannot message this user");
  json::object got;
  EXPECT_TRUE(a->ExpectNoFrame(500ms, &got)) << "blocker got " << Dump(got);
  auto conv = FindConversation(http(), alice.token, d);
  ASSERT_TRUE(conv);
  EXPECT_EQ(Int(*conv, "last_seq"), 1) << "a refused message was stored";

  EXPECT_EQ(Unblock(alice, bob.id), 204);
  EXPECT_TRUE(Blocked(alice).empty());
  auto ack = SendAndAck(*b, alice.id, "unblocked", UniqueCmid());
  ASSERT_TRUE(ack);
  EXPECT_EQ(Op(*ack), "ack") << Dump(*ack);
  auto msg = a->ReadOp("message", 5s);
  ASSERT_TRUE(msg);
  EXPECT_EQ(Str(*msg, "content"), "unblocked");
}

TEST_F(BlocksTest, BlockedUserDoesNotSeeTheBlockersPresence) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  SendDirect(bob, alice, 1);
  auto b = ConnectReady(port(), bob.token);
  ASSERT_TRUE(b->SendJson(json::object{{"op", "presence.subscribe"}, {"users", json::array{alice.id}}}));
  ASSERT_TRUE(b->ReadOp("presence", 5s)) << "visible before the block";
  auto a = ConnectReady(port(), alice.token);
  auto on = b->ReadOp("presence", 5s);
  ASSERT_TRUE(on);
  EXPECT_EQ(Str(*on, "status"), "online");

  ASSERT_EQ(Block(alice, bob.id), 204);
  // An existing subscription stops delivering.
  a->Close();
  json::object got;
  EXPECT_TRUE(NoneFrom(*b, "presence", alice.id, std::chrono::milliseconds(kGraceMs * 4), &got))
      << "blocked user saw " << Dump(got);
  auto pres = http().Get("/v1/presence?users=" + alice.id, bob.token);
  EXPECT_EQ(pres.status, 403) << pres.Describe();
  ASSERT_TRUE(b->SendJson(json::object{{"op", "presence.subscribe"}, {"users", json::array{alice.id}}, {"id", "again"}}));
  auto err = b->ReadUntil([](auto& f) { return Op(f) == "error" || Op(f) == "presence"; }, 5s);
  ASSERT_TRUE(err);
  EXPECT_EQ(Op(*err), "error") << Dump(*err);
  EXPECT_EQ(Str(*err, "code"), "forbidden");
  // The blocker still sees the blocked user.
  EXPECT_EQ(http().Get("/v1/presence?users=" + bob.id, alice.token).status, 200);

  ASSERT_EQ(Unblock(alice, bob.id), 204);
  auto back = http().Get("/v1/presence?users=" + alice.id, bob.token);
  ASSERT_EQ(back.status, 200) << back.Describe();
  auto users = ToObjects(ArrayAt(back.object(), "users"));
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(Str(users[0], "status"), "offline");
  EXPECT_GT(Int(users[0], "last_seen"), 0) << "last seen restored";
  ASSERT_TRUE(b->SendJson(json::object{{"op", "presence.subscribe"}, {"users", json::array{alice.id}}}));
  auto frame = b->ReadUntil([](auto& f) { return Op(f) == "error" || Op(f) == "presence"; }, 5s);
  ASSERT_TRUE(frame);
  EXPECT_EQ(Op(*frame), "presence") << Dump(*frame);
  auto a2 = ConnectReady(port(), alice.token);
  auto online = b->ReadOp("presence", 5s);
  ASSERT_TRUE(online);
  EXPECT_EQ(Str(*online, "status"), "online");
}

TEST_F(BlocksTest, BlockedUserGetsNoTypingOrReceiptsFromTheBlocker) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  std::string d = SendDirect(bob, alice, 3);
  std::string g = CreateGroup(http(), alice.token, "blk", {bob.id, carol.id});
  ASSERT_FALSE(d.empty() || g.empty());
  SendDirect(carol, alice, 1);
  ASSERT_EQ(Block(alice, bob.id), 204);
  auto a = ConnectReady(port(), alice.token);
  auto a2 = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  auto c = ConnectReady(port(), carol.token);
  json::object got;

  // Typing: carol (the sync point) gets it in the group, bob nowhere.
  ASSERT_TRUE(a->SendJson(Typing(d, "start")));
  ASSERT_TRUE(a->SendJson(Typing(g, "start")));
  EXPECT_TRUE(c->ReadUntil([&](auto& f) { return Is(f, "typing", g, alice.id); }, 5s)) << "carol";
  EXPECT_TRUE(NoneFrom(*b, "typing", alice.id, 1s, &got)) << "blocked user saw typing: " << Dump(got);
  ASSERT_TRUE(a->SendJson(Typing(d, "stop")));
  ASSERT_TRUE(a->SendJson(Typing(g, "stop")));

  // Receipts: alice's other session (the sync point) gets them, bob does not.
  ASSERT_TRUE(a->SendJson(Receipt(d, 3)));
  ASSERT_TRUE(a->SendJson(Receipt(g, 1)));
  EXPECT_TRUE(a2->ReadUntil([&](auto& f) { return Is(f, "receipt", d, alice.id) && Int(f, "up_to_seq") == 3; }, 5s));
  EXPECT_TRUE(c->ReadUntil([&](auto& f) { return Is(f, "receipt", g, alice.id); }, 5s)) << "carol, group receipt";
  EXPECT_TRUE(NoneFrom(*b, "receipt", alice.id, 1s, &got)) << "blocked user saw a receipt: " << Dump(got);
  auto mine = FindConversation(http(), alice.token, d);
  ASSERT_TRUE(mine);
  EXPECT_EQ(Int(*mine, "read_seq"), 3);
  auto theirs = FindConversation(http(), bob.token, d);
  ASSERT_TRUE(theirs);
  EXPECT_EQ(Int(*theirs, "peer_read_seq"), 0);
  EXPECT_EQ(Int(*theirs, "peer_delivered_seq"), 0);
  for (auto& f : HttpSyncAll(http(), bob.token)) {
    EXPECT_FALSE(Op(f) == "receipt" && Str(f, "user_id") == alice.id) << "in bob's sync: " << Dump(f);
  }

  // Unblocking restores typing and receipts.
  ASSERT_EQ(Unblock(alice, bob.id), 204);
  theirs = FindConversation(http(), bob.token, d);
  ASSERT_TRUE(theirs);
  EXPECT_EQ(Int(*theirs, "peer_read_seq"), 3);
  EXPECT_EQ(Int(*theirs, "peer_delivered_seq"), 3);
  bool in_sync = false;
  for (auto& f : HttpSyncAll(http(), bob.token)) in_sync = in_sync || Is(f, "receipt", d, alice.id);
  EXPECT_TRUE(in_sync) << "alice's receipt is not in bob's sync after the unblock";
  ASSERT_TRUE(a->SendJson(Typing(d, "start")));
  EXPECT_TRUE(b->ReadUntil([&](auto& f) { return Is(f, "typing", d, alice.id); }, 5s)) << "typing after unblock";
  ASSERT_TRUE(a->SendJson(Typing(d, "stop")));
  auto ack = SendAndAck(*b, alice.id, "m3", UniqueCmid());
  ASSERT_TRUE(ack && Op(*ack) == "ack");
  ASSERT_TRUE(a->SendJson(Receipt(d, 4)));
  EXPECT_TRUE(b->ReadUntil([&](auto& f) { return Is(f, "receipt", d, alice.id) && Int(f, "up_to_seq") == 4; }, 5s))
      << "receipt after unblock";
}

TEST_F(BlocksTest, BlockedUserCannotAddTheBlockerToGroups) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  ASSERT_EQ(Block(alice, bob.id), 204);
  auto with_alice = http().Post("/v1/groups", json::object{{"name", "x"}, {"members", json::array{carol.id, alice.id}}}, bob.token);
  EXPECT_EQ(with_alice.status, 403) << with_alice.Describe();
  EXPECT_EQ(with_alice.ErrorCode(), "forbidden");
  auto ch = http().Post("/v1/groups", json::object{{"name", "x"}, {"members", json::array{alice.id}}, {"kind", "channel"}}, bob.token);
  EXPECT_EQ(ch.status, 403) << ch.Describe();
  std::string g = CreateGroup(http(), bob.token, "bob's", {carol.id});
  ASSERT_FALSE(g.empty());
  auto add = http().Post("/v1/groups/" + g + "/members", json::object{{"user_id", alice.id}}, bob.token);
  EXPECT_EQ(add.status, 403) << add.Describe();
  auto info = http().Get("/v1/groups/" + g, bob.token);
  ASSERT_EQ(info.status, 200);
  EXPECT_EQ(Int(info.object(), "member_count"), 2);
  EXPECT_EQ(Int(info.object(), "last_seq"), 1);
  // Others may still add alice; the block is about bob.
  ASSERT_EQ(http().Request("PUT", "/v1/groups/" + g + "/members/" + carol.id, R"({"role":"admin"})", bob.token).status, 200);
  auto by_carol = http().Post("/v1/groups/" + g + "/members", json::object{{"user_id", alice.id}}, carol.token);
  EXPECT_EQ(by_carol.status, 200) << by_carol.Describe();

  ASSERT_EQ(Unblock(alice, bob.id), 204);
  std::string g2 = CreateGroup(http(), bob.token, "after", {alice.id});
  EXPECT_FALSE(g2.empty());
}

}  // namespace
}  // namespace parley::testing
