// Presence and typing (SPEC §4, §5.6, §6; docs/protocol.md "Presence and
// typing"): online/offline with a grace period, last_seen, who may see whom,
// subscriber-only pushes, hidden last seen, limits; typing forwarding, never
// in channels, never stored, rate-limited, auto-expiring.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "testing/helpers.h"

namespace parley::testing {
namespace {

using Clock = std::chrono::steady_clock;

class PresenceTypingTest : public ServerTest {
 protected:
  static constexpr int kGraceMs = 300;
  std::vector<std::string> ExtraArgs() override {
    return {"--presence-grace-ms", std::to_string(kGraceMs), "--send-rate", "100000", "--send-burst", "100000"};
  }

  // A 1:1 conversation between a and b (the first message creates it).
  std::string Direct(const User& a, const User& b) {
    auto res = http().Post("/v1/messages", json::object{{"to", b.id}, {"content", "hi"}, {"type", "text"}, {"client_msg_id", UniqueCmid()}}, a.token);
    EXPECT_EQ(res.status, 201) << res.Describe();
    return Str(res.object(), "conversation_id");
  }
  HttpResponse GetPresence(const User& viewer, const std::string& users) {
    return http().Get("/v1/presence?users=" + users, viewer.token);
  }
};

bool Subscribe(WsClient& ws, const std::vector<std::string>& users, std::string_view id, bool on = true) {
  json::array list;
  for (auto& u : users) list.emplace_back(u);
  return ws.SendJson(json::object{{"op", on ? "presence.subscribe" : "presence.unsubscribe"}, {"users", list}, {"id", id}});
}

std::optional<json::object> NextPresence(WsClient& ws, const std::string& user, std::string_view status,
                                         std::chrono::milliseconds timeout = 5s) {
  return ws.ReadUntil([&](auto& f) {
    return Op(f) == "presence" && Str(f, "user_id") == user && Str(f, "status") == status;
  }, timeout);
}

json::object TypingFrame(const std::string& conv, std::string_view state) {
  return json::object{{"op", "typing"}, {"conversation_id", conv}, {"state", state}};
}

std::optional<json::object> NextTyping(WsClient& ws, const std::string& conv, std::string_view state,
                                       std::chrono::milliseconds timeout = 5s) {
  return ws.ReadUntil([&](auto& f) {
    return Op(f) == "typing" && Str(f, "conversation_id") == conv && Str(f, "state") == state;
  }, timeout);
}

// True if no frame with op `op` arrives within `d` (other frames ignored).
bool NoOpFor(WsClient& ws, std::string_view op, std::chrono::milliseconds d, json::object* got = nullptr) {
  auto f = ws.ReadUntil([&](auto& f) { return Op(f) == op; }, d);
  if (f && got) *got = *f;
  return !f;
}

TEST_F(PresenceTypingTest, OnlineOfflineWithGraceAndLastSeen) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  Direct(alice, bob);
  auto a = ConnectReady(port(), alice.token);
  ASSERT_TRUE(Subscribe(*a, {bob.id}, "s1"));
  auto initial = a->ReadOp("presence", 5s);
  ASSERT_TRUE(initial) << "subscribe gave no current state";
  EXPECT_EQ(Str(*initial, "user_id"), bob.id);
  EXPECT_EQ(Str(*initial, "status"), "offline");
  EXPECT_EQ(Int(*initial, "last_seen"), 0) << "never seen";

  auto b1 = ConnectReady(port(), bob.token);
  auto online = NextPresence(*a, bob.id, "online");
  ASSERT_TRUE(online);
  EXPECT_EQ(Int(*online, "last_seen"), 0);
  auto now = GetPresence(alice, bob.id);
  ASSERT_EQ(now.status, 200) << now.Describe();
  auto users = ToObjects(ArrayAt(now.object(), "users"));
  ASSERT_EQ(users.size(), 1u) << now.body;
  EXPECT_EQ(Str(users[0], "user_id"), bob.id);
  EXPECT_EQ(Str(users[0], "status"), "online");
  EXPECT_EQ(Int(users[0], "last_seen"), 0);

  // A quick reconnect inside the grace period does not flap.
  b1->Close();
  auto b2 = ConnectReady(port(), bob.token);
  json::object got;
  EXPECT_TRUE(a->ExpectNoFrame(std::chrono::milliseconds(kGraceMs * 3), &got)) << "flapped: " << Dump(got);
  // Closing one of two sessions keeps the user online.
  auto b3 = ConnectReady(port(), bob.token);
  b2->Close();
  EXPECT_TRUE(a->ExpectNoFrame(std::chrono::milliseconds(kGraceMs * 3), &got)) << "offline with a session open: " << Dump(got);
  // The last session closing: offline after the grace, with last_seen.
  int64_t before = NowMs();
  b3->Close();
  auto offline = NextPresence(*a, bob.id, "offline", 10s);
  ASSERT_TRUE(offline) << "no offline frame";
  int64_t last_seen = Int(*offline, "last_seen");
  EXPECT_GE(last_seen, before) << Dump(*offline);
  EXPECT_LE(last_seen, NowMs()) << Dump(*offline);
  auto later = GetPresence(alice, bob.id);
  ASSERT_EQ(later.status, 200) << later.Describe();
  users = ToObjects(ArrayAt(later.object(), "users"));
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(Str(users[0], "status"), "offline");
  EXPECT_EQ(Int(users[0], "last_seen"), last_seen);
}

TEST_F(PresenceTypingTest, StrangersAndUnknownUsersGetTheSameRefusal) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  Direct(alice, bob);
  std::string ghost = "ghost_" + UniqueUser("g");
  auto c = ConnectReady(port(), carol.token);
  ASSERT_TRUE(Subscribe(*c, {alice.id}, "stranger"));
  auto e1 = c->ReadFrame(5s);
  ASSERT_TRUE(e1);
  EXPECT_EQ(Op(*e1), "error") << Dump(*e1);
  EXPECT_EQ(Str(*e1, "code"), "forbidden");
  EXPECT_EQ(Str(*e1, "id"), "stranger");
  ASSERT_TRUE(Subscribe(*c, {ghost}, "ghost"));
  auto e2 = c->ReadFrame(5s);
  ASSERT_TRUE(e2);
  EXPECT_EQ(Op(*e2), "error") << Dump(*e2);
  EXPECT_EQ(Str(*e2, "code"), "forbidden");
  EXPECT_EQ(Str(*e2, "message"), Str(*e1, "message")) << "the answer tells whether the user exists";
  auto h1 = GetPresence(carol, alice.id);
  auto h2 = GetPresence(carol, ghost);
  EXPECT_EQ(h1.status, 403) << h1.Describe();
  EXPECT_EQ(h2.status, 403) << h2.Describe();
  EXPECT_EQ(h1.body, h2.body);
  // Nothing leaks to the refused subscriber.
  auto a = ConnectReady(port(), alice.token);
  json::object got;
  EXPECT_TRUE(c->ExpectNoFrame(700ms, &got)) << Dump(got);
  a->Close();
  EXPECT_TRUE(c->ExpectNoFrame(std::chrono::milliseconds(kGraceMs * 3), &got)) << Dump(got);
  // One invisible user refuses the whole frame.
  auto a2 = ConnectReady(port(), alice.token);
  ASSERT_TRUE(Subscribe(*a2, {bob.id, carol.id}, "mixed"));
  auto e3 = a2->ReadFrame(5s);
  ASSERT_TRUE(e3);
  EXPECT_EQ(Op(*e3), "error") << Dump(*e3);
  EXPECT_EQ(Str(*e3, "code"), "forbidden");
  auto b = ConnectReady(port(), bob.token);
  EXPECT_TRUE(NoOpFor(*a2, "presence", 700ms, &got)) << "refused frame subscribed anyway: " << Dump(got);
  EXPECT_EQ(GetPresence(alice, bob.id + "," + carol.id).status, 403);
}

TEST_F(PresenceTypingTest, HiddenLastSeenReadsZero) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  Direct(alice, bob);
  auto set = http().Request("PUT", "/v1/me/settings", R"({"show_last_seen":false})", bob.token);
  ASSERT_EQ(set.status, 200) << set.Describe();
  auto* flag = set.object().if_contains("show_last_seen");
  ASSERT_TRUE(flag && flag->is_bool()) << set.body;
  EXPECT_FALSE(flag->as_bool());
  auto get = http().Get("/v1/me/settings", bob.token);
  ASSERT_EQ(get.status, 200);
  EXPECT_EQ(get.object().at("show_last_seen"), json::value(false)) << get.body;
  EXPECT_EQ(http().Request("PUT", "/v1/me/settings", R"({"show_last_seen":"no"})", bob.token).status, 400);

  auto a = ConnectReady(port(), alice.token);
  ASSERT_TRUE(Subscribe(*a, {bob.id}, "s"));
  ASSERT_TRUE(a->ReadOp("presence", 5s));
  auto b = ConnectReady(port(), bob.token);
  ASSERT_TRUE(NextPresence(*a, bob.id, "online"));
  b->Close();
  auto offline = NextPresence(*a, bob.id, "offline", 10s);
  ASSERT_TRUE(offline);
  EXPECT_EQ(Int(*offline, "last_seen"), 0) << "hidden last seen was pushed";
  auto res = GetPresence(alice, bob.id);
  ASSERT_EQ(res.status, 200);
  auto users = ToObjects(ArrayAt(res.object(), "users"));
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(Int(users[0], "last_seen"), 0) << res.body;

  // Shown again: the next disconnect has a real last_seen.
  ASSERT_EQ(http().Request("PUT", "/v1/me/settings", R"({"show_last_seen":true})", bob.token).status, 200);
  auto b2 = ConnectReady(port(), bob.token);
  ASSERT_TRUE(NextPresence(*a, bob.id, "online"));
  b2->Close();
  auto shown = NextPresence(*a, bob.id, "offline", 10s);
  ASSERT_TRUE(shown);
  EXPECT_GT(Int(*shown, "last_seen"), 0);
}

TEST_F(PresenceTypingTest, OnlySubscribersGetPushesAndUnsubscribeStopsThem) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  std::string g = CreateGroup(http(), alice.token, "pres", {bob.id, carol.id});
  ASSERT_FALSE(g.empty());
  auto c = ConnectReady(port(), carol.token);
  auto a = ConnectReady(port(), alice.token);
  ASSERT_TRUE(Subscribe(*a, {bob.id}, "s"));
  ASSERT_TRUE(a->ReadOp("presence", 5s));
  auto b = ConnectReady(port(), bob.token);
  ASSERT_TRUE(NextPresence(*a, bob.id, "online"));
  json::object got;
  EXPECT_TRUE(NoOpFor(*c, "presence", 700ms, &got)) << "non-subscriber got " << Dump(got);
  // Group members may still pull it.
  auto pulled = GetPresence(carol, bob.id);
  ASSERT_EQ(pulled.status, 200) << pulled.Describe();
  EXPECT_EQ(Str(ToObjects(ArrayAt(pulled.object(), "users")).at(0), "status"), "online");
  ASSERT_TRUE(Subscribe(*a, {bob.id}, "u", false));
  b->Close();
  EXPECT_TRUE(NoOpFor(*a, "presence", std::chrono::milliseconds(kGraceMs * 4), &got)) << "after unsubscribe: " << Dump(got);
  // The offline state did happen.
  auto deadline = Clock::now() + 5s;
  std::string status;
  while (Clock::now() < deadline && status != "offline") {
    auto r = GetPresence(alice, bob.id);
    auto u = ToObjects(ArrayAt(r.object(), "users"));
    status = u.empty() ? "" : Str(u[0], "status");
    if (status != "offline") std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(status, "offline");
}

TEST_F(PresenceTypingTest, SharingOnlyAChannelGivesNoPresence) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string c = CreateGroup(http(), alice.token, "pc", {bob.id}, "channel");
  ASSERT_FALSE(c.empty());
  auto a = ConnectReady(port(), alice.token);
  ASSERT_TRUE(Subscribe(*a, {bob.id}, "ch"));
  auto err = a->ReadFrame(5s);
  ASSERT_TRUE(err);
  EXPECT_EQ(Op(*err), "error") << Dump(*err);
  EXPECT_EQ(Str(*err, "code"), "forbidden");
  EXPECT_EQ(GetPresence(alice, bob.id).status, 403);
  EXPECT_EQ(GetPresence(bob, alice.id).status, 403);
}

TEST_F(PresenceTypingTest, TooManyUsersIsTooLarge) {
  auto alice = NewUser("alice");
  auto a = ConnectReady(port(), alice.token);
  std::vector<std::string> many;
  for (int i = 0; i < 2000; ++i) many.push_back("user_" + std::to_string(i));
  ASSERT_TRUE(Subscribe(*a, many, "big"));
  auto err = a->ReadFrame(5s);
  ASSERT_TRUE(err) << a->error();
  EXPECT_EQ(Op(*err), "error") << Dump(*err);
  EXPECT_EQ(Str(*err, "code"), "too_large");
  EXPECT_EQ(Str(*err, "id"), "big");
  EXPECT_TRUE(PingPong(*a));
  std::string list;
  for (int i = 0; i < 1001; ++i) list += (i ? "," : "") + many[i];
  auto res = GetPresence(alice, list);
  EXPECT_EQ(res.status, 413) << res.Describe();
  EXPECT_EQ(res.ErrorCode(), "too_large");
}

TEST_F(PresenceTypingTest, TypingForwardedInDirectAndGroupsButNotToSelf) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol"), dave = NewUser("dave");
  std::string d = Direct(alice, bob);
  std::string g = CreateGroup(http(), alice.token, "typers", {bob.id, carol.id});
  ASSERT_FALSE(d.empty() || g.empty());
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  auto c = ConnectReady(port(), carol.token);
  ASSERT_TRUE(a->SendJson(TypingFrame(d, "start")));
  auto t = NextTyping(*b, d, "start");
  ASSERT_TRUE(t) << "1:1 typing not forwarded";
  EXPECT_EQ(Str(*t, "user_id"), alice.id);
  ASSERT_TRUE(a->SendJson(TypingFrame(d, "stop")));
  EXPECT_TRUE(NextTyping(*b, d, "stop"));
  ASSERT_TRUE(a->SendJson(TypingFrame(g, "start")));
  auto tb = NextTyping(*b, g, "start");
  auto tc = NextTyping(*c, g, "start");
  ASSERT_TRUE(tb && tc) << "group typing not forwarded";
  EXPECT_EQ(Str(*tc, "user_id"), alice.id);
  ASSERT_TRUE(a->SendJson(TypingFrame(g, "stop")));
  EXPECT_TRUE(NextTyping(*c, g, "stop"));
  json::object got;
  EXPECT_TRUE(NoOpFor(*a, "typing", 300ms, &got)) << "own typing echoed: " << Dump(got);
  // Not a member: forbidden.
  auto dv = ConnectReady(port(), dave.token);
  auto frame = TypingFrame(g, "start");
  frame["id"] = "t-x";
  ASSERT_TRUE(dv->SendJson(frame));
  auto err = dv->ReadFrame(5s);
  ASSERT_TRUE(err);
  EXPECT_EQ(Str(*err, "code"), "forbidden") << Dump(*err);
  EXPECT_EQ(Str(*err, "id"), "t-x");
}

TEST_F(PresenceTypingTest, TypingNeverInChannels) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string c = CreateGroup(http(), alice.token, "quiet", {bob.id}, "channel");
  ASSERT_FALSE(c.empty());
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  ASSERT_TRUE(a->SendJson(TypingFrame(c, "start")));
  ASSERT_TRUE(a->SendJson(TypingFrame(c, "stop")));
  json::object got;
  EXPECT_TRUE(b->ExpectNoFrame(1s, &got)) << "channel member got " << Dump(got);
  // The channel itself works: a message does arrive.
  auto ack = SendToConversation(*a, c, "after typing", UniqueCmid());
  ASSERT_TRUE(ack && Op(*ack) == "ack");
  auto first = b->ReadFrame(5s);
  ASSERT_TRUE(first);
  EXPECT_EQ(Op(*first), "message") << Dump(*first);
  EXPECT_TRUE(NoOpFor(*b, "typing", 500ms, &got)) << Dump(got);
}

TEST_F(PresenceTypingTest, TypingIsNotStored) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string d = Direct(alice, bob);
  ASSERT_FALSE(d.empty());
  std::string cursor;
  HttpSyncAll(http(), bob.token, "", &cursor);
  auto before = FetchAllHistory(http(), bob.token, d);
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  ASSERT_TRUE(a->SendJson(TypingFrame(d, "start")));
  ASSERT_TRUE(NextTyping(*b, d, "start"));
  ASSERT_TRUE(a->SendJson(TypingFrame(d, "stop")));
  ASSERT_TRUE(NextTyping(*b, d, "stop"));
  auto after = FetchAllHistory(http(), bob.token, d);
  EXPECT_EQ(after.size(), before.size());
  for (auto& f : after) EXPECT_NE(Op(f), "typing");
  auto events = HttpSyncAll(http(), bob.token, cursor);
  EXPECT_TRUE(events.empty()) << "sync after typing returned " << Dump(events.at(0));
  for (auto& f : WsSyncAll(*b, nullptr)) EXPECT_NE(Op(f), "typing") << Dump(f);
  auto conv = FindConversation(http(), bob.token, d);
  ASSERT_TRUE(conv);
  EXPECT_EQ(Int(*conv, "last_seq"), 1);
}

TEST_F(PresenceTypingTest, TypingBurstIsRateLimited) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string d = Direct(alice, bob);
  ASSERT_FALSE(d.empty());
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  double base = MetricOnAllNodes("parley_typing_forwarded_total").value_or(0) +
                MetricOnAllNodes("parley_typing_dropped_total").value_or(0);
  constexpr int kBurst = 50;
  auto start = Clock::now();
  for (int i = 0; i < kBurst; ++i) ASSERT_TRUE(a->SendJson(TypingFrame(d, i % 2 ? "stop" : "start")));
  double elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  // Wait until the server has handled all 50 (forwarded or dropped).
  auto deadline = Clock::now() + 10s;
  double handled = 0;
  while (Clock::now() < deadline) {
    handled = MetricOnAllNodes("parley_typing_forwarded_total").value_or(0) +
              MetricOnAllNodes("parley_typing_dropped_total").value_or(0) - base;
    if (handled >= kBurst) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_GE(handled, kBurst) << "typing metrics did not account for the burst";
  int forwarded = 0;
  while (auto f = b->ReadFrame(300ms)) forwarded += Op(*f) == "typing";
  // Burst 5 plus 2/s refill over the time the burst took to send.
  int allowed = std::max(6, 5 + static_cast<int>(std::ceil(2 * elapsed_s)) + 1);
  EXPECT_GE(forwarded, 1);
  EXPECT_LE(forwarded, allowed) << kBurst << " typing frames in " << elapsed_s << " s";
  EXPECT_TRUE(PingPong(*a)) << "dropping typing frames must not close the socket";
}

TEST_F(PresenceTypingTest, UnrefreshedStartExpiresWithStop) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string d = Direct(alice, bob);
  ASSERT_FALSE(d.empty());
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  ASSERT_TRUE(a->SendJson(TypingFrame(d, "start")));
  ASSERT_TRUE(NextTyping(*b, d, "start"));
  auto stop = b->ReadFrame(9s);  // alice sends nothing more: the server ends it
  ASSERT_TRUE(stop) << "no stop after an unrefreshed start";
  EXPECT_EQ(Op(*stop), "typing") << Dump(*stop);
  EXPECT_EQ(Str(*stop, "state"), "stop");
  EXPECT_EQ(Str(*stop, "user_id"), alice.id);
  EXPECT_EQ(Str(*stop, "conversation_id"), d);
}

class TypingFanoutLimitTest : public PresenceTypingTest {
 protected:
  std::vector<std::string> ExtraArgs() override { return {"--typing-fanout-limit", "3"}; }
};

TEST_F(TypingFanoutLimitTest, GroupsAboveTheLimitGetNoTyping) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol"), dave = NewUser("dave");
  std::string small = CreateGroup(http(), alice.token, "three", {bob.id, carol.id});
  std::string large = CreateGroup(http(), alice.token, "four", {bob.id, carol.id, dave.id});
  ASSERT_FALSE(small.empty() || large.empty());
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  ASSERT_TRUE(a->SendJson(TypingFrame(small, "start")));
  EXPECT_TRUE(NextTyping(*b, small, "start")) << "3 members: within the limit";
  ASSERT_TRUE(a->SendJson(TypingFrame(large, "start")));
  auto got = b->ReadUntil([&](auto& f) { return Op(f) == "typing" && Str(f, "conversation_id") == large; }, 1s);
  EXPECT_FALSE(got) << "4 members > limit 3, yet forwarded: " << Dump(*got);
  ASSERT_TRUE(a->SendJson(TypingFrame(small, "stop")));
}

}  // namespace
}  // namespace parley::testing
