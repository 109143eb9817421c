// The message lifecycle (docs/protocol.md "Message lifecycle"): replies,
// edits, deletes for everyone and for me, reactions (groups live, channels
// aggregated), the disappearing-messages setting; live, through history and
// through sync (a client offline during the changes sees the final state),
// idempotent retries, authorization and bad input, over WebSocket and HTTP.
// The timers (edit window, disappearing messages, retention batches) are
// driven with a FakeClock in src/chat/lifecycle_test.cc.
#include <gtest/gtest.h>

#include "testing/helpers.h"

namespace parley::testing {
namespace {

class LifecycleTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--send-rate", "100000", "--send-burst", "100000", "--reaction-flush-ms", "100"};
  }

  // Sends a lifecycle frame with a fresh id and waits for the ack or error echoing it.
  static json::object Call(WsClient& ws, json::object frame,
                           std::vector<json::object>* skipped = nullptr) {
    std::string id = UniqueCmid("req");
    frame["id"] = id;
    if (!frame.contains("client_msg_id")) frame["client_msg_id"] = UniqueCmid("l");
    EXPECT_TRUE(ws.SendJson(frame));
    auto reply = ws.ReadUntil(
        [&](const json::object& f) {
          return (Op(f) == "ack" || Op(f) == "error") && Str(f, "id") == id;
        },
        10s, skipped);
    EXPECT_TRUE(reply) << "no reply to " << Dump(frame);
    return reply.value_or(json::object{});
  }
  static json::object Edit(const std::string& conv, const std::string& id, std::string_view text) {
    return {{"op", "edit"}, {"conversation_id", conv}, {"message_id", id}, {"content", text}};
  }
  static json::object Delete(const std::string& conv, const std::string& id,
                             std::string_view scope) {
    return {{"op", "delete"}, {"conversation_id", conv}, {"message_id", id}, {"scope", scope}};
  }
  static json::object React(const std::string& conv, const std::string& id,
                            std::string_view emoji) {
    return {{"op", "react"}, {"conversation_id", conv}, {"message_id", id}, {"emoji", emoji}};
  }
  // Sends to a conversation; returns the ack (a failure and {} otherwise).
  static json::object Post(WsClient& ws, const std::string& conv, std::string_view text,
                           std::vector<json::object>* skipped = nullptr) {
    auto ack = SendToConversation(ws, conv, text, UniqueCmid(), skipped);
    EXPECT_TRUE(ack && Op(*ack) == "ack") << (ack ? Dump(*ack) : "timeout");
    return ack.value_or(json::object{});
  }
  // A session whose live frames flow at once (its first frame ends the initial hold).
  std::unique_ptr<WsClient> Live(const User& u) {
    auto ws = ConnectReady(port(), u.token);
    EXPECT_TRUE(PingPong(*ws));
    return ws;
  }
  // The next frame of `conv` that is a message or an event.
  static json::object NextInStream(WsClient& ws, const std::string& conv) {
    auto f = ws.ReadUntil(
        [&](const json::object& f) {
          return (Op(f) == "message" || Op(f) == "event") && Str(f, "conversation_id") == conv;
        },
        10s);
    EXPECT_TRUE(f) << "no stream frame in " << conv;
    return f.value_or(json::object{});
  }
  json::object HistoryItem(const User& u, const std::string& conv, const std::string& id) {
    for (auto& item : FetchAllHistory(http(), u.token, conv)) {
      if (Op(item) == "message" && Str(item, "message_id") == id) return item;
    }
    return {};
  }
  HttpResponse HttpChange(std::string_view op, const json::object& body, const User& u) {
    return http().Post("/v1/messages/" + std::string(op), body, u.token);
  }
  HttpResponse PutSettings(const std::string& conv, std::string_view body, std::string_view token) {
    return http().Request("PUT", "/v1/conversations/" + conv + "/settings", body, token);
  }
};

std::string Code(const json::object& reply) {
  return Op(reply) == "error" ? Str(reply, "code") : Op(reply);
}

TEST_F(LifecycleTest, ReplyCarriesQuotedSenderAndPreviewAndIsValidated) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  auto a = ConnectReady(port(), alice.token);
  auto b = Live(bob);
  auto first = SendAndAck(*a, bob.id, "Are we still on for lunch at noon?", UniqueCmid());
  ASSERT_TRUE(first && Op(*first) == "ack");
  std::string conv = Str(*first, "conversation_id"), quoted = Str(*first, "message_id");
  NextInStream(*b, conv);

  auto reply = Call(
      *b, {{"op", "send"}, {"conversation_id", conv}, {"content", "yes!"}, {"reply_to", quoted}});
  ASSERT_EQ(Op(reply), "ack") << Dump(reply);
  auto live = NextInStream(*a, conv);
  EXPECT_EQ(Str(live, "reply_to"), quoted);
  EXPECT_EQ(Str(live, "reply_sender"), alice.id);
  EXPECT_EQ(Str(live, "reply_preview"), "Are we still on for lunch at noon?");
  auto stored = HistoryItem(alice, conv, Str(reply, "message_id"));
  EXPECT_EQ(Str(stored, "reply_sender"), alice.id);
  auto synced = InConversation(HttpSyncAll(http(), alice.token), conv);
  ASSERT_EQ(synced.size(), 2u);
  EXPECT_EQ(Str(synced[1], "reply_preview"), "Are we still on for lunch at noon?");

  // A message of another conversation, an unknown id and a malformed one.
  std::string g = CreateGroup(http(), alice.token, "g", {bob.id});
  std::string in_group = Str(Post(*a, g, "group msg"), "message_id");
  auto send_reply = [&](const std::string& to) {
    return Call(*b,
                {{"op", "send"}, {"conversation_id", conv}, {"content", "x"}, {"reply_to", to}});
  };
  EXPECT_EQ(Code(send_reply(in_group)), "not_found");
  EXPECT_EQ(Code(send_reply("123456789")), "not_found");
  EXPECT_EQ(Code(send_reply("12ab")), "bad_request");
  // The HTTP send takes reply_to too.
  auto res = http().Post("/v1/messages",
                         json::object{{"conversation_id", conv},
                                      {"content", "via http"},
                                      {"client_msg_id", UniqueCmid()},
                                      {"reply_to", in_group}},
                         bob.token);
  EXPECT_EQ(res.status, 404) << res.Describe();
  EXPECT_EQ(FetchAllHistory(http(), bob.token, conv).size(), 2u);  // nothing refused was stored
}

TEST_F(LifecycleTest, EditsAreOrderedEventsAndAnOfflineMemberSyncsTheFinalState) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  std::string g = CreateGroup(http(), alice.token, "plans", {bob.id, carol.id});
  auto a = ConnectReady(port(), alice.token);
  auto b = Live(bob);
  json::object before;
  {  // carol syncs once, then goes offline for the changes
    auto c = ConnectReady(port(), carol.token);
    WsSyncAll(*c, nullptr, &before);
  }
  auto m1 = Post(*a, g, "meet at 5");
  auto m2 = Post(*a, g, "bring snacks");
  auto edit = Call(*a, Edit(g, Str(m1, "message_id"), "meet at 6"));
  ASSERT_EQ(Op(edit), "ack") << Dump(edit);
  EXPECT_EQ(Str(edit, "message_id"), Str(m1, "message_id"));
  EXPECT_EQ(Int(edit, "seq"), Int(m2, "seq") + 1);  // the edit takes the next seq
  auto m3 = Post(*a, g, "see you");

  // Live, in seq order: m1, m2, the edit, m3.
  EXPECT_EQ(Int(NextInStream(*b, g), "seq"), Int(m1, "seq"));
  EXPECT_EQ(Int(NextInStream(*b, g), "seq"), Int(m2, "seq"));
  auto live_edit = NextInStream(*b, g);
  EXPECT_EQ(Op(live_edit), "event");
  EXPECT_EQ(Str(live_edit, "kind"), "edited");
  EXPECT_EQ(Str(live_edit, "message_id"), Str(m1, "message_id"));
  EXPECT_EQ(Str(live_edit, "content"), "meet at 6");
  EXPECT_EQ(Str(live_edit, "actor"), alice.id);
  EXPECT_GT(Int(live_edit, "edited_at"), 0);
  EXPECT_EQ(Int(NextInStream(*b, g), "seq"), Int(m3, "seq"));

  // History: the latest content with edited_at, the edit event in its place.
  auto history = FetchAllHistory(http(), carol.token, g);
  ASSERT_EQ(history.size(), 5u);
  EXPECT_EQ(Str(history[1], "content"), "meet at 6");
  EXPECT_EQ(Int(history[1], "edited_at"), Int(live_edit, "edited_at"));
  EXPECT_EQ(Str(history[3], "kind"), "edited");

  // Carol comes back: her sync from the old cursor carries the edit after m2 and before m3.
  auto c = ConnectReady(port(), carol.token);
  auto missed = InConversation(WsSyncAll(*c, before.if_contains("cursor")), g);
  ASSERT_EQ(missed.size(), 4u);
  EXPECT_EQ(Str(missed[0], "content"), "meet at 6");  // m1 as it is now
  EXPECT_EQ(Str(missed[2], "kind"), "edited");
  EXPECT_EQ(Str(missed[3], "content"), "see you");
}

TEST_F(LifecycleTest, DeleteForEveryoneTombstonesEverywhereIncludingForAnOfflineMember) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  std::string g = CreateGroup(http(), alice.token, "team", {bob.id, carol.id});
  auto b = ConnectReady(port(), bob.token);
  auto m = Post(*b, g, "oops, wrong chat");
  json::object cursor;
  {
    auto c = ConnectReady(port(), carol.token);
    WsSyncAll(*c, nullptr, &cursor);  // carol saw the message, then went offline
  }
  auto a = Live(alice);
  ASSERT_EQ(Op(Call(*b, Edit(g, Str(m, "message_id"), "oops v2"))), "ack");
  Post(*a, g, "what?");
  auto del = Call(*b, Delete(g, Str(m, "message_id"), "everyone"));
  ASSERT_EQ(Op(del), "ack") << Dump(del);
  json::object live;
  while (Str(live, "kind") != "deleted") live = NextInStream(*a, g);
  EXPECT_EQ(Str(live, "message_id"), Str(m, "message_id"));
  EXPECT_EQ(Str(live, "actor"), bob.id);

  auto tomb = HistoryItem(carol, g, Str(m, "message_id"));
  EXPECT_TRUE(tomb.contains("deleted") && tomb.at("deleted").as_bool()) << Dump(tomb);
  EXPECT_EQ(Str(tomb, "content"), "");
  EXPECT_EQ(Str(tomb, "sender"), bob.id);
  for (auto& item : FetchAllHistory(http(), carol.token, g)) {
    EXPECT_EQ(Dump(item).find("oops"), std::string::npos)
        << Dump(item);  // the edit is scrubbed too
  }
  auto c = ConnectReady(port(), carol.token);
  auto missed = InConversation(WsSyncAll(*c, cursor.if_contains("cursor")), g);
  ASSERT_FALSE(missed.empty());
  EXPECT_EQ(Str(missed.back(), "kind"), "deleted");
  for (auto& f : missed) EXPECT_EQ(Dump(f).find("oops"), std::string::npos) << Dump(f);
  EXPECT_EQ(Code(Call(*b, Edit(g, Str(m, "message_id"), "back"))), "not_found");
}

TEST_F(LifecycleTest, MediaBecomesUnreadableOnceNoLiveMessageCarriesIt) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string g = CreateGroup(http(), alice.token, "team", {bob.id});
  auto upload = http().Request("POST", "/v1/media", "team secret", alice.token,
                               {{"Content-Type", "text/plain"}});
  ASSERT_EQ(upload.status, 201) << upload.Describe();
  std::string media = Str(upload.object(), "media_id");
  auto a = ConnectReady(port(), alice.token);
  std::vector<std::string> ids;
  for (const char* caption : {"first copy", "second copy"}) {
    auto ack = Call(*a, {{"op", "send"},
                         {"conversation_id", g},
                         {"type", "file"},
                         {"content", caption},
                         {"media_id", media}});
    ASSERT_EQ(Op(ack), "ack") << Dump(ack);
    ids.push_back(Str(ack, "message_id"));
  }
  auto download = [&](const User& u) { return http().Get("/v1/media/" + media, u.token).status; };
  EXPECT_EQ(download(bob), 200);
  ASSERT_EQ(Op(Call(*a, Delete(g, ids[0], "everyone"))), "ack");
  EXPECT_EQ(download(bob), 200);  // the second message still carries it
  ASSERT_EQ(Op(Call(*a, Delete(g, ids[1], "everyone"))), "ack");
  EXPECT_EQ(download(bob), 404);  // no live message does
  EXPECT_FALSE(HistoryItem(bob, g, ids[1]).contains("media_id"));
}

TEST_F(LifecycleTest, OnlySendersAndGroupAdminsDelete) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  std::string g = CreateGroup(http(), alice.token, "team", {bob.id, carol.id});
  auto b = ConnectReady(port(), bob.token);
  auto c = ConnectReady(port(), carol.token);
  auto by_bob = Post(*b, g, "bob's");
  std::string id = Str(by_bob, "message_id");
  EXPECT_EQ(Code(Call(*c, Delete(g, id, "everyone"))), "forbidden");
  EXPECT_EQ(Code(Call(*c, Edit(g, id, "carol's now"))), "forbidden");
  auto res = HttpChange("delete",
                        {{"conversation_id", g},
                         {"message_id", id},
                         {"scope", "everyone"},
                         {"client_msg_id", UniqueCmid()}},
                        alice);  // the admin, over HTTP
  ASSERT_EQ(res.status, 200) << res.Describe();
  EXPECT_EQ(Str(res.object(), "message_id"), id);
  EXPECT_GT(Int(res.object(), "seq"), Int(by_bob, "seq"));
  EXPECT_TRUE(HistoryItem(carol, g, id).at("deleted").as_bool());

  // In a 1:1 nobody is an admin: the peer cannot delete for everyone.
  auto dm = SendAndAck(*b, carol.id, "dm", UniqueCmid());
  ASSERT_TRUE(dm);
  EXPECT_EQ(Code(Call(*c, Delete(Str(*dm, "conversation_id"), Str(*dm, "message_id"), "everyone"))),
            "forbidden");
}

TEST_F(LifecycleTest, DeleteForMeHidesOnlyForTheCallerAcrossItsSessions) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  auto a = ConnectReady(port(), alice.token);
  auto m = SendAndAck(*a, bob.id, "embarrassing", UniqueCmid());
  auto keep = SendAndAck(*a, bob.id, "fine", UniqueCmid());
  ASSERT_TRUE(m && keep);
  std::string conv = Str(*m, "conversation_id"), id = Str(*m, "message_id");
  auto b1 = Live(bob);
  auto b2 = Live(bob);
  auto hide = Call(*b1, Delete(conv, id, "me"));
  ASSERT_EQ(Op(hide), "ack") << Dump(hide);
  EXPECT_EQ(Int(hide, "seq"), 0);  // nothing others see
  auto told = b2->ReadOp("hidden");
  ASSERT_TRUE(told);
  EXPECT_EQ(Str(*told, "message_id"), id);
  EXPECT_EQ(Str(*told, "conversation_id"), conv);

  auto bobs = FetchAllHistory(http(), bob.token, conv);
  ASSERT_EQ(bobs.size(), 1u);
  EXPECT_EQ(Str(bobs[0], "content"), "fine");
  EXPECT_EQ(FetchAllHistory(http(), alice.token, conv).size(), 2u);
  auto synced = InConversation(HttpSyncAll(http(), bob.token), conv);
  ASSERT_EQ(synced.size(), 2u);  // "fine" and the hidden frame, not the hidden message
  EXPECT_EQ(Op(synced[0]), "message");
  EXPECT_EQ(Op(synced[1]), "hidden");
  EXPECT_TRUE(a->ExpectNoFrame(300ms));                         // alice hears nothing of it
  EXPECT_EQ(Int(Call(*b1, Delete(conv, id, "me")), "seq"), 0);  // again: a no-op ack
}

TEST_F(LifecycleTest, GroupReactionsAreLiveEventsAndCountedInHistory) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  auto mallory = NewUser("mallory");
  std::string g = CreateGroup(http(), alice.token, "team", {bob.id, carol.id});
  auto a = ConnectReady(port(), alice.token);
  auto m = Post(*a, g, "ship it?");
  std::string id = Str(m, "message_id");
  auto b = Live(bob);
  auto c = Live(carol);
  auto r1 = Call(*b, React(g, id, "👍"));
  ASSERT_EQ(Op(r1), "ack") << Dump(r1);
  EXPECT_EQ(Int(r1, "seq"), Int(m, "seq") + 1);
  auto live = NextInStream(*c, g);
  EXPECT_EQ(Str(live, "kind"), "reaction");
  EXPECT_EQ(Str(live, "actor"), bob.id);
  EXPECT_EQ(Str(live, "emoji"), "👍");
  EXPECT_EQ(Int(ObjectAt(live, "reactions"), "👍"), 1);
  ASSERT_EQ(Op(Call(*c, React(g, id, "👍"))), "ack");
  EXPECT_EQ(Int(Call(*c, React(g, id, "👍")), "seq"), 0);  // same reaction again: no-op
  ASSERT_EQ(Op(Call(*b, React(g, id, "🎉"))), "ack");      // bob changes his
  auto counts = ObjectAt(HistoryItem(alice, g, id), "reactions");
  EXPECT_EQ(Int(counts, "👍"), 1);
  EXPECT_EQ(Int(counts, "🎉"), 1);
  auto cleared = Call(*b, React(g, id, ""));
  ASSERT_EQ(Op(cleared), "ack");
  auto after = ObjectAt(HistoryItem(alice, g, id), "reactions");
  EXPECT_FALSE(after.contains("🎉")) << Dump(after);

  auto x = ConnectReady(port(), mallory.token);
  EXPECT_EQ(Code(Call(*x, React(g, id, "👎"))), "forbidden");
  EXPECT_EQ(Code(Call(*b, React(g, id, std::string(33, 'x')))), "too_large");
  EXPECT_EQ(Code(Call(*b, React(g, "987654321", "👍"))), "not_found");
  auto res = HttpChange("react",
                        {{"conversation_id", g},
                         {"message_id", id},
                         {"emoji", "❤️"},
                         {"client_msg_id", UniqueCmid()}},
                        carol);
  EXPECT_EQ(res.status, 200) << res.Describe();
}

TEST_F(LifecycleTest, ChannelReactionsArriveAsAggregatedCounts) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  std::string ch = CreateGroup(http(), alice.token, "news", {bob.id, carol.id}, "channel");
  auto a = ConnectReady(port(), alice.token);
  auto m = Post(*a, ch, "launch day");
  std::string id = Str(m, "message_id");
  auto c = Live(carol);
  auto b = Live(bob);
  auto r = Call(*b, React(ch, id, "🚀"));
  ASSERT_EQ(Op(r), "ack") << Dump(r);
  EXPECT_EQ(Int(r, "seq"), 0);  // no entry per reaction in a channel
  ASSERT_EQ(Op(Call(*a, React(ch, id, "🚀"))), "ack");
  // Within --reaction-flush-ms, one aggregated event with both.
  auto aggregate = c->ReadUntil(
      [&](const json::object& f) {
        return Op(f) == "event" && Str(f, "kind") == "reactions" &&
               Int(ObjectAt(f, "reactions"), "🚀") == 2;
      },
      10s);
  ASSERT_TRUE(aggregate);
  EXPECT_EQ(Str(*aggregate, "message_id"), id);
  EXPECT_FALSE(aggregate->contains("actor"));
  EXPECT_EQ(Int(ObjectAt(HistoryItem(carol, ch, id), "reactions"), "🚀"), 2);
  auto stream = InConversation(FetchAllHistory(http(), carol.token, ch), ch);
  size_t reaction_events = 0;
  for (auto& f : stream) reaction_events += Str(f, "kind") == "reaction";
  EXPECT_EQ(reaction_events, 0u);
}

TEST_F(LifecycleTest, RetriesWithTheSameClientMsgIdAreIdempotent) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  auto a = ConnectReady(port(), alice.token);
  auto m = SendAndAck(*a, bob.id, "v1", UniqueCmid());
  ASSERT_TRUE(m);
  std::string conv = Str(*m, "conversation_id"), id = Str(*m, "message_id");
  auto edit = Edit(conv, id, "v2");
  edit["client_msg_id"] = "edit-once";
  auto first = Call(*a, edit);
  edit["content"] = "v3";
  auto again = Call(*a, edit);
  ASSERT_EQ(Op(again), "ack");
  EXPECT_EQ(Int(again, "seq"), Int(first, "seq"));
  EXPECT_EQ(Int(again, "ts"), Int(first, "ts"));
  EXPECT_EQ(Str(HistoryItem(bob, conv, id), "content"), "v2");

  json::object body{{"conversation_id", conv},
                    {"message_id", id},
                    {"emoji", "👍"},
                    {"client_msg_id", "react-once"}};
  auto h1 = HttpChange("react", body, bob);
  body["emoji"] = "👎";
  auto h2 = HttpChange("react", body, bob);
  ASSERT_EQ(h1.status, 200) << h1.Describe();
  EXPECT_EQ(h2.status, 200);
  EXPECT_EQ(h1.body, h2.body);
  auto del = Delete(conv, id, "everyone");
  del["client_msg_id"] = "delete-once";
  auto d1 = Call(*a, del);
  auto d2 = Call(*a, del);
  EXPECT_EQ(Int(d1, "seq"), Int(d2, "seq"));
  // Exactly one event per operation: edit, reaction, delete.
  auto history = FetchAllHistory(http(), alice.token, conv);
  ASSERT_EQ(history.size(), 4u);
  EXPECT_EQ(Str(history[1], "kind"), "edited");
  EXPECT_EQ(Str(history[2], "kind"), "reaction");
  EXPECT_EQ(Str(history[3], "kind"), "deleted");
}

TEST_F(LifecycleTest, DisappearingSettingIsAnEventAndNeedsTheRightRole) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), mallory = NewUser("mallory");
  auto a = ConnectReady(port(), alice.token);
  auto m = SendAndAck(*a, bob.id, "hi", UniqueCmid());
  ASSERT_TRUE(m);
  std::string dm = Str(*m, "conversation_id");
  auto b = Live(bob);
  auto res = PutSettings(dm, R"({"disappear_after_s":3600})", bob.token);  // any 1:1 member
  ASSERT_EQ(res.status, 200) << res.Describe();
  EXPECT_EQ(Int(res.object(), "disappear_after_s"), 3600);
  EXPECT_EQ(Str(res.object(), "conversation_id"), dm);
  auto event = NextInStream(*a, dm);
  EXPECT_EQ(Str(event, "kind"), "settings_changed");
  EXPECT_EQ(Int(event, "disappear_after_s"), 3600);
  EXPECT_EQ(Int(event, "seq"), Int(res.object(), "seq"));
  auto listed = FindConversation(http(), alice.token, dm);
  ASSERT_TRUE(listed);
  EXPECT_EQ(Int(*listed, "disappear_after_s"), 3600);

  std::string g = CreateGroup(http(), alice.token, "g", {bob.id});
  EXPECT_EQ(PutSettings(g, R"({"disappear_after_s":60})", bob.token).status, 403);
  EXPECT_EQ(PutSettings(g, R"({"disappear_after_s":60})", mallory.token).status, 403);
  EXPECT_EQ(PutSettings(g, R"({"disappear_after_s":60})", alice.token).status, 200);
  EXPECT_EQ(PutSettings("g:999", R"({"disappear_after_s":60})", alice.token).status, 403);
  EXPECT_EQ(PutSettings(g, R"({"disappear_after_s":60})", "").status, 401);
  EXPECT_EQ(PutSettings(g, R"({"disappear_after_s":-5})", alice.token).status, 400);
  EXPECT_EQ(PutSettings(g, R"({"disappear_after_s":"60"})", alice.token).status, 400);
  EXPECT_EQ(PutSettings(g, R"({"disappear_after_s":999999999})", alice.token).status, 400);
  EXPECT_EQ(PutSettings(g, R"({})", alice.token).status, 400);
  EXPECT_EQ(PutSettings(g, "not json", alice.token).status, 400);
  auto got = http().Get("/v1/conversations/" + g + "/settings", bob.token);
  ASSERT_EQ(got.status, 200) << got.Describe();
  EXPECT_EQ(Int(got.object(), "disappear_after_s"), 60);
  // With `muted` in the same body: a refused timer changes neither.
  EXPECT_EQ(PutSettings(g, R"({"muted":true,"disappear_after_s":5})", bob.token).status, 403);
  EXPECT_EQ(http().Get("/v1/conversations/" + g + "/settings", bob.token).object().at("muted"),
            json::value(false));
  auto both = PutSettings(g, R"({"muted":true,"disappear_after_s":120})", alice.token);
  ASSERT_EQ(both.status, 200) << both.Describe();
  EXPECT_EQ(both.object().at("muted"), json::value(true));
  EXPECT_EQ(Int(both.object(), "disappear_after_s"), 120);
  EXPECT_GT(Int(both.object(), "seq"), 0);
  EXPECT_EQ(http().Request("DELETE", "/v1/conversations/" + g + "/settings", "", alice.token).status,
            405);
}

TEST_F(LifecycleTest, BadInputGetsClearErrorsAndTheConnectionStaysOpen) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  auto a = ConnectReady(port(), alice.token);
  auto m = SendAndAck(*a, bob.id, "hello", UniqueCmid());
  ASSERT_TRUE(m);
  std::string conv = Str(*m, "conversation_id"), id = Str(*m, "message_id");
  EXPECT_EQ(Code(Call(*a, Edit(conv, "424242", "x"))), "not_found");
  EXPECT_EQ(Code(Call(*a, Edit(conv, "abc", "x"))), "bad_request");
  EXPECT_EQ(Code(Call(*a, Edit(conv, id, ""))), "bad_request");
  EXPECT_EQ(Code(Call(*a, Edit(conv, id, std::string(16 * 1024 + 1, 'x')))), "too_large");
  EXPECT_EQ(Code(Call(*a, Edit("d:nobody:else", id, "x"))), "forbidden");
  EXPECT_EQ(Code(Call(*a, Delete(conv, id, "sometimes"))), "bad_request");
  EXPECT_EQ(Code(Call(*a, React(conv, id, "a b"))), "bad_request");
  EXPECT_EQ(Code(Call(*a, {{"op", "edit"}, {"conversation_id", conv}, {"content", "x"}})),
            "bad_request");  // no message_id
  EXPECT_TRUE(PingPong(*a));
  EXPECT_EQ(Str(HistoryItem(alice, conv, id), "content"), "hello");

  json::object body{{"conversation_id", conv},
                    {"message_id", id},
                    {"content", "x"},
                    {"client_msg_id", UniqueCmid()}};
  EXPECT_EQ(http().Post("/v1/messages/edit", body, "").status, 401);
  EXPECT_EQ(http().Post("/v1/messages/edit", body, "not-a-token").status, 401);
  auto malformed = http().Request("POST", "/v1/messages/edit", "{", alice.token);
  EXPECT_EQ(malformed.status, 400);
  EXPECT_TRUE(malformed.IsErrorShape());
  EXPECT_EQ(HttpChange("edit", body, bob).status, 403);      // bob's not the sender
  EXPECT_EQ(HttpChange("delete", body, alice).status, 400);  // no scope
  EXPECT_EQ(http().Get("/v1/messages/edit", alice.token).status, 405);
  EXPECT_EQ(http().Post("/v1/messages/pin", body, alice.token).status, 404);
}

class EditWindowClosedTest : public LifecycleTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--edit-window", "0", "--delete-window", "0"};
  }
};

TEST_F(EditWindowClosedTest, EditsAndSenderDeletesAfterTheWindowAreForbidden) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  auto a = ConnectReady(port(), alice.token);
  auto m = SendAndAck(*a, bob.id, "final", UniqueCmid());
  ASSERT_TRUE(m);
  std::string conv = Str(*m, "conversation_id"), id = Str(*m, "message_id");
  auto edit = Call(*a, Edit(conv, id, "changed"));
  EXPECT_EQ(Code(edit), "forbidden");
  EXPECT_NE(Str(edit, "message").find("window"), std::string::npos) << Dump(edit);
  EXPECT_EQ(Code(Call(*a, Delete(conv, id, "everyone"))), "forbidden");
  EXPECT_EQ(Op(Call(*a, Delete(conv, id, "me"))), "ack");  // for me needs no window
  EXPECT_EQ(Str(HistoryItem(bob, conv, id), "content"), "final");
}

}  // namespace
}  // namespace parley::testing
