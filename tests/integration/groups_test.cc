// Groups and channels (SPEC §3, §6; docs/protocol.md "Groups and channels"):
// creation, roles, membership changes as `event`s in the seq stream (live,
// history and sync), caps, removed/re-added members' visibility, channel
// posting, bad input and the conversation list.
#include <gtest/gtest.h>

#include <map>

#include "testing/helpers.h"

namespace parley::testing {
namespace {

class GroupsTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--send-rate", "100000", "--send-burst", "100000"};
  }

  HttpResponse Add(const User& actor, const std::string& conv, const std::string& user) {
    return http().Post("/v1/groups/" + conv + "/members", json::object{{"user_id", user}}, actor.token);
  }
  HttpResponse Remove(const User& actor, const std::string& conv, const std::string& user) {
    return http().Delete("/v1/groups/" + conv + "/members/" + user, actor.token);
  }
  HttpResponse SetRole(const User& actor, const std::string& conv, const std::string& user,
                       std::string_view role) {
    return http().Request("PUT", "/v1/groups/" + conv + "/members/" + user,
                          json::serialize(json::object{{"role", role}}), actor.token);
  }
  HttpResponse Patch(const User& actor, const std::string& conv, const json::object& body) {
    return http().Request("PATCH", "/v1/groups/" + conv, json::serialize(body), actor.token);
  }
  HttpResponse CreateRaw(const User& actor, const json::value& body) {
    return http().Post("/v1/groups", body, actor.token);
  }
  // GET /v1/groups/{id} as `u`; an empty object (and a failure) unless 200.
  json::object Describe(const User& u, const std::string& conv) {
    auto res = http().Get("/v1/groups/" + conv, u.token);
    EXPECT_EQ(res.status, 200) << res.Describe();
    return res.object();
  }
  static std::map<std::string, std::string> Roles(const json::object& group) {
    std::map<std::string, std::string> out;
    for (auto& m : ToObjects(ArrayAt(group, "members"))) out[Str(m, "user_id")] = Str(m, "role");
    return out;
  }
  // The seq of a 200 membership-change answer (-1 otherwise, with a failure).
  static int64_t ChangeSeq(const HttpResponse& res) {
    EXPECT_EQ(res.status, 200) << res.Describe();
    return res.status == 200 ? Int(res.object(), "seq") : -1;
  }
};

// Reads `message`/`event` frames of `conv` until one has seq >= `last`.
std::vector<json::object> ReadStreamUntil(WsClient& ws, const std::string& conv, int64_t last,
                                          std::chrono::milliseconds timeout = 10s) {
  std::vector<json::object> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto f = ws.ReadFrame(left);
    if (!f) break;
    if ((Op(*f) != "message" && Op(*f) != "event") || Str(*f, "conversation_id") != conv) continue;
    out.push_back(*f);
    if (Int(*f, "seq") >= last) break;
  }
  return out;
}

std::vector<int64_t> Seqs(const std::vector<json::object>& v) {
  std::vector<int64_t> out;
  for (auto& f : v) out.push_back(Int(f, "seq"));
  return out;
}

// "message" or "event:<kind>" per item, for comparing streams.
std::vector<std::string> Shape(const std::vector<json::object>& v) {
  std::vector<std::string> out;
  for (auto& f : v) out.push_back(Op(f) == "event" ? "event:" + Str(f, "kind") : Op(f));
  return out;
}

TEST_F(GroupsTest, CreateGroupAndChannelCreatorIsAdmin) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  auto res = CreateRaw(alice, json::object{{"name", "Team"}, {"members", json::array{bob.id, carol.id}}});
  ASSERT_EQ(res.status, 201) << res.Describe();
  std::string g = Str(res.object(), "conversation_id");
  EXPECT_EQ(g.rfind("g:", 0), 0u) << g;

  auto info = Describe(bob, g);
  EXPECT_EQ(Str(info, "conversation_id"), g);
  EXPECT_EQ(Str(info, "kind"), "group");
  EXPECT_EQ(Str(info, "name"), "Team");
  EXPECT_EQ(Str(info, "created_by"), alice.id);
  EXPECT_EQ(Int(info, "member_count"), 3);
  EXPECT_EQ(Int(info, "last_seq"), 1);
  auto roles = Roles(info);
  EXPECT_EQ(roles, (std::map<std::string, std::string>{
                       {alice.id, "admin"}, {bob.id, "member"}, {carol.id, "member"}}))
      << Dump(info);

  auto history = FetchAllHistory(http(), carol.token, g);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(Op(history[0]), "event");
  EXPECT_EQ(Str(history[0], "kind"), "created");
  EXPECT_EQ(Int(history[0], "seq"), 1);
  EXPECT_EQ(Str(history[0], "actor"), alice.id);
  EXPECT_EQ(Str(history[0], "name"), "Team");
  EXPECT_GT(Int(history[0], "ts"), 1'600'000'000'000);

  auto ch = CreateRaw(alice, json::object{{"name", "News"}, {"members", json::array{bob.id}}, {"kind", "channel"}});
  ASSERT_EQ(ch.status, 201) << ch.Describe();
  std::string c = Str(ch.object(), "conversation_id");
  EXPECT_EQ(c.rfind("c:", 0), 0u) << c;
  auto cinfo = Describe(bob, c);
  EXPECT_EQ(Str(cinfo, "kind"), "channel");
  EXPECT_EQ(Str(cinfo, "posting"), "all");
  EXPECT_EQ(Int(cinfo, "member_count"), 2);
  EXPECT_EQ(Roles(cinfo)[alice.id], "admin");
  EXPECT_EQ(Roles(cinfo)[bob.id], "member");
  auto chist = FetchAllHistory(http(), bob.token, c);
  ASSERT_EQ(chist.size(), 1u);
  EXPECT_EQ(Str(chist[0], "kind"), "created");
  EXPECT_EQ(Str(chist[0], "name"), "News");
}

TEST_F(GroupsTest, EveryChangeIsALiveEventInOrderWithMessagesAndInHistoryAndSync) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol"), dave = NewUser("dave");
  auto b = ConnectReady(port(), bob.token);
  auto c = ConnectReady(port(), carol.token);
  auto a = ConnectReady(port(), alice.token);
  std::string g = CreateGroup(http(), alice.token, "Plan", {bob.id});
  ASSERT_FALSE(g.empty());
  auto ack1 = SendToConversation(*a, g, "first", UniqueCmid());
  ASSERT_TRUE(ack1 && Op(*ack1) == "ack") << (ack1 ? Dump(*ack1) : "timeout");
  EXPECT_EQ(Int(*ack1, "seq"), 2);
  EXPECT_EQ(ChangeSeq(Add(alice, g, carol.id)), 3);
  EXPECT_EQ(ChangeSeq(Patch(alice, g, {{"name", "Plan B"}})), 4);
  EXPECT_EQ(ChangeSeq(SetRole(alice, g, carol.id, "admin")), 5);
  // carol sends over HTTP, so her WebSocket session gets the message too.
  auto ack2 = http().Post("/v1/messages", json::object{{"conversation_id", g}, {"content", "from carol"}, {"type", "text"}, {"client_msg_id", UniqueCmid()}}, carol.token);
  ASSERT_EQ(ack2.status, 201) << ack2.Describe();
  EXPECT_EQ(Int(ack2.object(), "seq"), 6);
  EXPECT_EQ(ChangeSeq(Add(carol, g, dave.id)), 7);     // carol is an admin now
  EXPECT_EQ(ChangeSeq(Remove(carol, g, dave.id)), 8);
  auto ack3 = SendToConversation(*a, g, "last", UniqueCmid());
  ASSERT_TRUE(ack3 && Op(*ack3) == "ack");
  EXPECT_EQ(Int(*ack3, "seq"), 9);

  const std::vector<std::string> shape = {"event:created", "message", "event:member_added",
                                          "event:renamed", "event:role_changed", "message",
                                          "event:member_added", "event:member_removed", "message"};
  // bob, a member throughout, sees all of it live, in seq order.
  auto live = ReadStreamUntil(*b, g, 9);
  EXPECT_EQ(Seqs(live), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(Shape(live), shape);
  if (live.size() == 9) {
    EXPECT_EQ(Str(live[2], "user_id"), carol.id);
    EXPECT_EQ(Str(live[2], "actor"), alice.id);
    EXPECT_EQ(Str(live[3], "name"), "Plan B");
    EXPECT_EQ(Str(live[4], "user_id"), carol.id);
    EXPECT_EQ(Str(live[4], "role"), "admin");
    EXPECT_EQ(Str(live[6], "actor"), carol.id);
    EXPECT_EQ(Str(live[7], "user_id"), dave.id);
    EXPECT_EQ(Str(live[8], "content"), "last");
  }
  // carol was connected before being added: her stream starts at her add event.
  auto carol_live = ReadStreamUntil(*c, g, 9);
  EXPECT_EQ(Seqs(carol_live), (std::vector<int64_t>{3, 4, 5, 6, 7, 8, 9}));
  // History and sync return the same stream.
  auto history = FetchAllHistory(http(), bob.token, g);
  EXPECT_EQ(Seqs(history), Seqs(live));
  EXPECT_EQ(Shape(history), shape);
  for (size_t i = 0; i < history.size() && i < live.size(); ++i) {
    EXPECT_EQ(Dump(history[i]), Dump(live[i])) << "history item " << i << " differs from the live frame";
  }
  auto synced = InConversation(HttpSyncAll(http(), bob.token), g);
  EXPECT_EQ(Seqs(synced), Seqs(live));
  EXPECT_EQ(Shape(synced), shape);
  EXPECT_EQ(Str(Describe(bob, g), "name"), "Plan B");
  EXPECT_EQ(Int(Describe(bob, g), "last_seq"), 9);
}

TEST_F(GroupsTest, AdminRoutesRefuseNonAdminsAndEverythingRefusesNonMembers) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol"), dave = NewUser("dave");
  std::string g = CreateGroup(http(), alice.token, "Admins only", {bob.id, carol.id});
  ASSERT_FALSE(g.empty());
  EXPECT_EQ(Add(bob, g, dave.id).status, 403);
  EXPECT_EQ(Add(bob, g, carol.id).status, 403) << "a non-admin's duplicate add";
  auto r = Remove(bob, g, carol.id);
  EXPECT_EQ(r.status, 403) << r.Describe();
  EXPECT_EQ(r.ErrorCode(), "forbidden");
  EXPECT_EQ(Patch(bob, g, {{"name", "mine"}}).status, 403);
  EXPECT_EQ(SetRole(bob, g, bob.id, "admin").status, 403);
  EXPECT_EQ(SetRole(bob, g, alice.id, "member").status, 403);
  // A non-member gets 403 for everything.
  EXPECT_EQ(http().Get("/v1/groups/" + g, dave.token).status, 403);
  EXPECT_EQ(Add(dave, g, dave.id).status, 403);
  EXPECT_EQ(Remove(dave, g, bob.id).status, 403);
  EXPECT_EQ(Patch(dave, g, {{"name", "x"}}).status, 403);
  EXPECT_EQ(http().Get("/v1/conversations/" + g + "/messages", dave.token).status, 403);
  auto d = ConnectReady(port(), dave.token);
  auto err = SendToConversation(*d, g, "intruder", UniqueCmid());
  ASSERT_TRUE(err);
  EXPECT_EQ(Op(*err), "error") << Dump(*err);
  EXPECT_EQ(Str(*err, "code"), "forbidden") << Dump(*err);
  // Nothing was stored by the refused calls.
  EXPECT_EQ(Int(Describe(alice, g), "last_seq"), 1);
  EXPECT_EQ(Roles(Describe(alice, g)).size(), 3u);
}

TEST_F(GroupsTest, AddUnknownDuplicateAddRolesAndLastAdminDemotion) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  std::string g = CreateGroup(http(), alice.token, "Roles", {bob.id});
  ASSERT_FALSE(g.empty());
  auto b = ConnectReady(port(), bob.token);
  auto unknown = Add(alice, g, "nobody_" + UniqueUser("x"));
  EXPECT_EQ(unknown.status, 404) << unknown.Describe();
  EXPECT_EQ(unknown.ErrorCode(), "not_found");
  // Adding a current member: 200, seq 0, no event, nothing delivered.
  auto dup = Add(alice, g, bob.id);
  ASSERT_EQ(dup.status, 200) << dup.Describe();
  EXPECT_EQ(Int(dup.object(), "seq"), 0) << dup.body;
  json::object got;
  EXPECT_TRUE(b->ExpectNoFrame(500ms, &got)) << "duplicate add delivered " << Dump(got);
  EXPECT_EQ(Int(Describe(alice, g), "last_seq"), 1);
  // The last admin cannot demote itself.
  auto demote = SetRole(alice, g, alice.id, "member");
  EXPECT_EQ(demote.status, 409) << demote.Describe();
  EXPECT_EQ(demote.ErrorCode(), "conflict");
  EXPECT_EQ(SetRole(alice, g, bob.id, "owner").status, 400);
  EXPECT_EQ(SetRole(alice, g, carol.id, "admin").status, 404) << "role of a non-member";
  // Promote bob: a role_changed event; bob may now add.
  EXPECT_EQ(ChangeSeq(SetRole(alice, g, bob.id, "admin")), 2);
  auto ev = ReadStreamUntil(*b, g, 2);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(Str(ev[0], "kind"), "role_changed");
  EXPECT_EQ(Str(ev[0], "user_id"), bob.id);
  EXPECT_EQ(Str(ev[0], "role"), "admin");
  EXPECT_EQ(Str(ev[0], "actor"), alice.id);
  EXPECT_EQ(Roles(Describe(alice, g))[bob.id], "admin");
  EXPECT_EQ(ChangeSeq(Add(bob, g, carol.id)), 3);
  // With two admins, alice may step down.
  EXPECT_EQ(ChangeSeq(SetRole(alice, g, alice.id, "member")), 4);
  auto roles = Roles(Describe(carol, g));
  EXPECT_EQ(roles[alice.id], "member");
  EXPECT_EQ(roles[bob.id], "admin");
  EXPECT_EQ(roles[carol.id], "member");
  EXPECT_EQ(SetRole(bob, g, bob.id, "member").status, 409) << "bob is now the last admin";
}

TEST_F(GroupsTest, LastAdminLeavingPromotesEarliestJoinedMember) {
  auto alice = NewUser("alice");
  auto zed = NewUser("zz");  // joins first but sorts last: order must come from joining
  auto amy = NewUser("aa");
  std::string g = CreateGroup(http(), alice.token, "Succession", {});
  ASSERT_FALSE(g.empty());
  EXPECT_EQ(ChangeSeq(Add(alice, g, zed.id)), 2);
  EXPECT_EQ(ChangeSeq(Add(alice, g, amy.id)), 3);
  auto z = ConnectReady(port(), zed.token);
  EXPECT_EQ(ChangeSeq(Remove(alice, g, alice.id)), 4);  // leave
  auto ev = ReadStreamUntil(*z, g, 4);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(Str(ev[0], "kind"), "member_left");
  EXPECT_EQ(Str(ev[0], "user_id"), alice.id);
  EXPECT_EQ(Str(ev[0], "actor"), alice.id);
  EXPECT_EQ(Str(ev[0], "promoted"), zed.id) << "the event names the new admin";
  auto info = Describe(amy, g);
  EXPECT_EQ(Int(info, "member_count"), 2);
  EXPECT_EQ(Roles(info), (std::map<std::string, std::string>{{zed.id, "admin"}, {amy.id, "member"}}))
      << Dump(info);
  // zed reads from its own add event on.
  auto history = FetchAllHistory(http(), zed.token, g);
  EXPECT_EQ(Seqs(history), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(Shape(history), (std::vector<std::string>{"event:member_added", "event:member_added",
                                                      "event:member_left"}));
  // The new admin can administer; the one who left cannot.
  EXPECT_EQ(ChangeSeq(Patch(zed, g, {{"name", "Zed's"}})), 5);
  EXPECT_EQ(http().Get("/v1/groups/" + g, alice.token).status, 403);
  EXPECT_EQ(Add(alice, g, alice.id).status, 403);
}

TEST_F(GroupsTest, RemovedMemberSeesItsRemovalThenNothing) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol"), dave = NewUser("dave");
  std::string g = CreateGroup(http(), alice.token, "Kick", {bob.id, carol.id});
  ASSERT_FALSE(g.empty());
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  auto c = ConnectReady(port(), carol.token);
  ASSERT_TRUE(SendToConversation(*a, g, "before", UniqueCmid()));
  EXPECT_EQ(ChangeSeq(Remove(alice, g, bob.id)), 3);
  auto seen = ReadStreamUntil(*b, g, 3);
  EXPECT_EQ(Seqs(seen), (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(Str(seen[1], "kind"), "member_removed");
  EXPECT_EQ(Str(seen[1], "user_id"), bob.id);
  EXPECT_EQ(Str(seen[1], "actor"), alice.id);
  // After its removal: nothing, whatever happens in the group.
  auto after = SendToConversation(*a, g, "after", UniqueCmid());
  ASSERT_TRUE(after && Op(*after) == "ack");
  EXPECT_EQ(ChangeSeq(Add(alice, g, dave.id)), 5);
  EXPECT_EQ(ChangeSeq(Patch(alice, g, {{"name", "Kicked"}})), 6);
  EXPECT_EQ(Seqs(ReadStreamUntil(*c, g, 6)), (std::vector<int64_t>{2, 3, 4, 5, 6})) << "carol";
  json::object got;
  EXPECT_TRUE(b->ExpectNoFrame(700ms, &got)) << "removed member got " << Dump(got);
  // It may not send, over WebSocket or HTTP.
  auto err = SendToConversation(*b, g, "still here?", UniqueCmid());
  ASSERT_TRUE(err);
  EXPECT_EQ(Op(*err), "error") << Dump(*err);
  EXPECT_EQ(Str(*err, "code"), "forbidden") << Dump(*err);
  auto http_send = http().Post("/v1/messages", json::object{{"conversation_id", g}, {"content", "x"}, {"type", "text"}, {"client_msg_id", UniqueCmid()}}, bob.token);
  EXPECT_EQ(http_send.status, 403) << http_send.Describe();
  EXPECT_EQ(http().Get("/v1/groups/" + g, bob.token).status, 403);
  // It reads history up to its removal event and never past it.
  auto history = FetchAllHistory(http(), bob.token, g);
  EXPECT_EQ(Seqs(history), (std::vector<int64_t>{1, 2, 3}));
  auto newest = http().Get("/v1/conversations/" + g + "/messages?before_seq=100", bob.token);
  ASSERT_EQ(newest.status, 200) << newest.Describe();
  EXPECT_EQ(Seqs(ToObjects(ArrayAt(newest.object(), "messages"))), (std::vector<int64_t>{1, 2, 3}));
  auto past = http().Get("/v1/conversations/" + g + "/messages?after_seq=3", bob.token);
  ASSERT_EQ(past.status, 200) << past.Describe();
  EXPECT_TRUE(ArrayAt(past.object(), "messages").empty()) << past.body;
  EXPECT_EQ(Seqs(InConversation(HttpSyncAll(http(), bob.token), g)), (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(GroupsTest, ReAddedMemberReadsFromItsReAddOn) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string g = CreateGroup(http(), alice.token, "Back", {bob.id});
  ASSERT_FALSE(g.empty());
  auto a = ConnectReady(port(), alice.token);
  ASSERT_TRUE(SendToConversation(*a, g, "m1", UniqueCmid()));   // 2
  EXPECT_EQ(ChangeSeq(Remove(alice, g, bob.id)), 3);
  ASSERT_TRUE(SendToConversation(*a, g, "m2", UniqueCmid()));   // 4, unseen by bob
  auto b = ConnectReady(port(), bob.token);
  EXPECT_EQ(ChangeSeq(Add(alice, g, bob.id)), 5);
  auto m3 = SendToConversation(*a, g, "m3", UniqueCmid());      // 6
  ASSERT_TRUE(m3 && Op(*m3) == "ack");
  EXPECT_EQ(Int(*m3, "seq"), 6);
  auto live = ReadStreamUntil(*b, g, 6);
  EXPECT_EQ(Seqs(live), (std::vector<int64_t>{5, 6}));
  auto history = FetchAllHistory(http(), bob.token, g);
  EXPECT_EQ(Seqs(history), (std::vector<int64_t>{5, 6}));
  for (auto& h : history) EXPECT_NE(Str(h, "content"), "m2") << "leaked a message sent while removed";
  auto ack = SendToConversation(*b, g, "I'm back", UniqueCmid());
  ASSERT_TRUE(ack);
  EXPECT_EQ(Op(*ack), "ack") << Dump(*ack);
  EXPECT_EQ(Int(*ack, "seq"), 7);
}

TEST_F(GroupsTest, SendingToAGroupOneLeftIsForbidden) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string g = CreateGroup(http(), alice.token, "Exit", {bob.id});
  ASSERT_FALSE(g.empty());
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  auto ok = SendToConversation(*b, g, "hi", UniqueCmid());
  ASSERT_TRUE(ok && Op(*ok) == "ack") << (ok ? Dump(*ok) : "timeout");
  EXPECT_EQ(ChangeSeq(Remove(bob, g, bob.id)), 3);
  auto ev = ReadStreamUntil(*a, g, 3);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(Str(ev.back(), "kind"), "member_left");
  EXPECT_EQ(Str(ev.back(), "user_id"), bob.id);
  auto err = SendToConversation(*b, g, "after leaving", UniqueCmid());
  ASSERT_TRUE(err);
  EXPECT_EQ(Op(*err), "error") << Dump(*err);
  EXPECT_EQ(Str(*err, "code"), "forbidden");
  auto res = http().Post("/v1/messages", json::object{{"conversation_id", g}, {"content", "x"}, {"type", "text"}, {"client_msg_id", UniqueCmid()}}, bob.token);
  EXPECT_EQ(res.status, 403) << res.Describe();
  EXPECT_EQ(Int(Describe(alice, g), "member_count"), 1);
  EXPECT_EQ(Int(Describe(alice, g), "last_seq"), 3);
}

TEST_F(GroupsTest, BadInputIsRefused) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  for (std::string id : {"g:123456789", "c:987654321", "g:nope"}) {
    auto get = http().Get("/v1/groups/" + id, alice.token);
    EXPECT_EQ(get.status, 404) << id << ": " << get.Describe();
    EXPECT_TRUE(get.IsErrorShape()) << get.body;
    EXPECT_EQ(Patch(alice, id, {{"name", "x"}}).status, 404) << id;
  }
  auto expect400 = [&](const json::value& body, const char* what) {
    auto res = CreateRaw(alice, body);
    EXPECT_EQ(res.status, 400) << what << ": " << res.Describe();
    EXPECT_EQ(res.ErrorCode(), "bad_request") << what;
  };
  expect400(json::object{{"name", "x"}, {"members", bob.id}}, "members a string");
  expect400(json::object{{"name", "x"}, {"members", json::object{{"a", 1}}}}, "members an object");
  expect400(json::object{{"name", "x"}, {"members", json::array{1, 2}}}, "numeric members");
  expect400(json::object{{"name", "x"}, {"members", json::array{bob.id, nullptr}}}, "null member");
  expect400(json::object{{"name", "x"}, {"members", json::array{json::array{bob.id}}}}, "nested member");
  expect400(json::object{{"name", "x"}, {"members", json::array{"Not A Valid Id!"}}}, "invalid member id");
  expect400(json::object{{"name", std::string(129, 'n')}, {"members", json::array{bob.id}}}, "129-byte name");
  expect400(json::object{{"name", ""}, {"members", json::array{bob.id}}}, "empty name");
  expect400(json::object{{"members", json::array{bob.id}}}, "no name");
  expect400(json::object{{"name", 5}}, "numeric name");
  expect400(json::object{{"name", "x"}, {"kind", "forum"}}, "unknown kind");
  expect400(json::array{"name"}, "not an object");
  auto unknown = CreateRaw(alice, json::object{{"name", "x"}, {"members", json::array{bob.id, "ghost_" + UniqueUser("g")}}});
  EXPECT_EQ(unknown.status, 404) << unknown.Describe();
  auto max_name = CreateRaw(alice, json::object{{"name", std::string(128, 'n')}, {"members", json::array{bob.id}}});
  EXPECT_EQ(max_name.status, 201) << "a 128-byte name is allowed: " << max_name.Describe();

  std::string g = CreateGroup(http(), alice.token, "G", {bob.id});
  std::string c = CreateGroup(http(), alice.token, "C", {bob.id}, "channel");
  ASSERT_FALSE(g.empty() || c.empty());
  EXPECT_EQ(Patch(alice, g, {{"posting", "admins"}}).status, 400) << "posting on a group";
  EXPECT_EQ(Patch(alice, c, {{"posting", "everyone"}}).status, 400);
  EXPECT_EQ(Patch(alice, c, {{"posting", 1}}).status, 400);
  EXPECT_EQ(Patch(alice, g, {{"name", ""}}).status, 400);
  EXPECT_EQ(Patch(alice, g, {{"name", std::string(129, 'x')}}).status, 400);
  EXPECT_EQ(Patch(alice, g, json::object{}).status, 400) << "nothing to change";
  EXPECT_EQ(http().Post("/v1/groups/" + g + "/members", json::object{}, alice.token).status, 400);
  EXPECT_EQ(http().Post("/v1/groups/" + g + "/members", json::object{{"user_id", 7}}, alice.token).status, 400);
  EXPECT_EQ(http().Request("PUT", "/v1/groups/" + g + "/members/" + bob.id, "{}", alice.token).status, 400);
  // None of it changed anything.
  EXPECT_EQ(Int(Describe(alice, g), "last_seq"), 1);
  EXPECT_EQ(Str(Describe(alice, c), "posting"), "all");
}

TEST_F(GroupsTest, ChannelPostingAdminsRefusesMembers) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string c = CreateGroup(http(), alice.token, "Broadcast", {bob.id}, "channel");
  ASSERT_FALSE(c.empty());
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  auto open = SendToConversation(*b, c, "posting is all", UniqueCmid());
  ASSERT_TRUE(open && Op(*open) == "ack") << (open ? Dump(*open) : "timeout");
  EXPECT_EQ(ChangeSeq(Patch(alice, c, {{"posting", "admins"}})), 3);
  auto ev = ReadStreamUntil(*b, c, 3);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(Str(ev.back(), "kind"), "renamed");
  EXPECT_EQ(Str(ev.back(), "posting"), "admins");
  EXPECT_EQ(Str(Describe(bob, c), "posting"), "admins");
  auto refused = SendToConversation(*b, c, "member post", UniqueCmid());
  ASSERT_TRUE(refused);
  EXPECT_EQ(Op(*refused), "error") << Dump(*refused);
  EXPECT_EQ(Str(*refused, "code"), "forbidden");
  auto http_refused = http().Post("/v1/messages", json::object{{"conversation_id", c}, {"content", "x"}, {"type", "text"}, {"client_msg_id", UniqueCmid()}}, bob.token);
  EXPECT_EQ(http_refused.status, 403) << http_refused.Describe();
  auto admin = SendToConversation(*a, c, "admin post", UniqueCmid());
  ASSERT_TRUE(admin);
  EXPECT_EQ(Op(*admin), "ack") << Dump(*admin);
  EXPECT_EQ(Int(*admin, "seq"), 4);
  auto got = ReadStreamUntil(*b, c, 4);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(Str(got.back(), "content"), "admin post");
  EXPECT_EQ(ChangeSeq(Patch(alice, c, {{"posting", "all"}})), 5);
  auto again = SendToConversation(*b, c, "open again", UniqueCmid());
  ASSERT_TRUE(again);
  EXPECT_EQ(Op(*again), "ack") << Dump(*again);
}

TEST_F(GroupsTest, ConversationListShowsGroupsAndChannels) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  std::string g = CreateGroup(http(), alice.token, "Listed group", {bob.id});
  std::string c = CreateGroup(http(), alice.token, "Listed channel", {bob.id, carol.id}, "channel");
  ASSERT_FALSE(g.empty() || c.empty());
  auto a = ConnectReady(port(), alice.token);
  ASSERT_TRUE(SendToConversation(*a, g, "one", UniqueCmid()));
  auto two = SendToConversation(*a, g, "two", UniqueCmid());
  ASSERT_TRUE(two && Op(*two) == "ack");
  auto bg = FindConversation(http(), bob.token, g);
  ASSERT_TRUE(bg) << "group missing from bob's list";
  EXPECT_EQ(Str(*bg, "kind"), "group");
  EXPECT_EQ(Str(*bg, "name"), "Listed group");
  EXPECT_EQ(Int(*bg, "member_count"), 2);
  EXPECT_EQ(Int(*bg, "last_seq"), 3);
  EXPECT_EQ(Int(*bg, "read_seq"), 0);
  EXPECT_EQ(Int(*bg, "unread_count"), 2);
  EXPECT_EQ(Str(ObjectAt(*bg, "last_message"), "content"), "two");
  auto bc = FindConversation(http(), bob.token, c);
  ASSERT_TRUE(bc) << "channel missing from bob's list";
  EXPECT_EQ(Str(*bc, "kind"), "channel");
  EXPECT_EQ(Str(*bc, "name"), "Listed channel");
  EXPECT_EQ(Int(*bc, "member_count"), 3);
  EXPECT_EQ(Int(*bc, "last_seq"), 1);
  EXPECT_EQ(Int(*bc, "unread_count"), 0);
  auto ag = FindConversation(http(), alice.token, g);
  ASSERT_TRUE(ag);
  EXPECT_EQ(Int(*ag, "unread_count"), 0) << "own messages are not unread";
  EXPECT_TRUE(FindConversation(http(), carol.token, c));
  EXPECT_FALSE(FindConversation(http(), carol.token, g)) << "carol is not in the group";
}

class GroupCapsTest : public GroupsTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--max-group-members", "5", "--max-channel-members", "3"};
  }
};

TEST_F(GroupCapsTest, CapsCountEveryMemberCreatorIncluded) {
  auto alice = NewUser("alice");
  std::vector<User> u;
  for (int i = 0; i < 6; ++i) u.push_back(NewUser("m" + std::to_string(i)));
  auto ids = [&](int n) {
    json::array a;
    for (int i = 0; i < n; ++i) a.emplace_back(u[i].id);
    return a;
  };
  auto over = CreateRaw(alice, json::object{{"name", "too big"}, {"members", ids(5)}});
  EXPECT_EQ(over.status, 409) << "creator + 5 > 5: " << over.Describe();
  EXPECT_EQ(over.ErrorCode(), "conflict");
  // The creator listed again and duplicates count once: creator + 4 = 5.
  json::array four = ids(4);
  four.emplace_back(alice.id);
  four.emplace_back(u[0].id);
  auto full = CreateRaw(alice, json::object{{"name", "full"}, {"members", four}});
  ASSERT_EQ(full.status, 201) << full.Describe();
  std::string g = Str(full.object(), "conversation_id");
  EXPECT_EQ(Int(Describe(alice, g), "member_count"), 5);
  auto add = Add(alice, g, u[5].id);
  EXPECT_EQ(add.status, 409) << add.Describe();
  EXPECT_EQ(add.ErrorCode(), "conflict");
  EXPECT_EQ(Int(Describe(alice, g), "last_seq"), 1);
  EXPECT_EQ(ChangeSeq(Remove(alice, g, u[0].id)), 2);
  EXPECT_EQ(ChangeSeq(Add(alice, g, u[5].id)), 3) << "room again after a removal";

  auto cover = CreateRaw(alice, json::object{{"name", "ch"}, {"members", ids(3)}, {"kind", "channel"}});
  EXPECT_EQ(cover.status, 409) << cover.Describe();
  auto cfull = CreateRaw(alice, json::object{{"name", "ch"}, {"members", ids(2)}, {"kind", "channel"}});
  ASSERT_EQ(cfull.status, 201) << cfull.Describe();
  std::string c = Str(cfull.object(), "conversation_id");
  auto cadd = Add(alice, c, u[3].id);
  EXPECT_EQ(cadd.status, 409) << cadd.Describe();
  EXPECT_EQ(Int(Describe(alice, c), "member_count"), 3);
}

}  // namespace
}  // namespace parley::testing
