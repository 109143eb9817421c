// Security properties of docs/security.md, each tried against the real
// server: no route or frame reads or writes a conversation the caller is not
// in (IDOR), media follows membership, a revoked token is dead everywhere at
// once, tokens are only looked up by hash, login does not tell unknown users
// from wrong passwords, abuse limits answer rate_limited with when to retry,
// and hostile JSON (deep, amplifying, invalid UTF-8) is refused cleanly.
#include <gtest/gtest.h>

#include <thread>

#include "media/test_images.h"
#include "testing/helpers.h"

namespace parley::testing {
namespace {

Headers TypeHeader(std::string_view type) { return {{"Content-Type", std::string(type)}}; }

std::unique_ptr<WsClient> ConnectWith(uint16_t port, WsAuth auth, std::string token = "") {
  WsOptions options;
  options.auth = auth;
  options.token = std::move(token);
  return WsClient::Connect(port, options);
}

// `depth` nested arrays around 0, as the value of field "x".
std::string NestedArrays(int depth) {
  return std::string(depth, '[') + "0" + std::string(depth, ']');
}

// Expects `r` to be the documented error: status, code and the error shape.
void ExpectError(const HttpResponse& r, int status, std::string_view code, std::string_view what) {
  EXPECT_EQ(r.status, status) << what << ": " << r.Describe();
  EXPECT_EQ(r.ErrorCode(), code) << what << ": " << r.Describe();
  EXPECT_TRUE(r.IsErrorShape()) << what << ": " << r.Describe();
}

// Alice and Bob share a direct conversation and a group, each with a message
// and an image; Mallory, a registered user, is in neither.
class SecurityTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--send-rate", "100000", "--send-burst", "100000"};
  }

  void SetUp() override {
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    alice_ = NewUser("alice");
    bob_ = NewUser("bob");
    mallory_ = NewUser("mallory");
    group_ = CreateGroup(http(), alice_.token, "private", {bob_.id});
    ASSERT_FALSE(group_.empty());
    image_ = media::testing::EncodeTestImage(64, 48, "png");
    ASSERT_FALSE(image_.empty());
    HttpResponse up = http().Request("POST", "/v1/media", image_, alice_.token,
                                     TypeHeader("image/png"));
    ASSERT_EQ(up.status, 201) << up.Describe();
    media_ = Str(up.object(), "media_id");

    auto ws = ConnectReady(port(), alice_.token);
    ASSERT_TRUE(ws && ws->IsOpen());
    auto direct = SendAndAck(*ws, bob_.id, "direct secret", UniqueCmid());
    ASSERT_TRUE(direct && Op(*direct) == "ack");
    direct_ = Str(*direct, "conversation_id");
    direct_msg_ = Str(*direct, "message_id");
    auto in_group = SendToConversation(*ws, group_, "group secret", UniqueCmid());
    ASSERT_TRUE(in_group && Op(*in_group) == "ack");
    group_msg_ = Str(*in_group, "message_id");
    json::object media_frame = ConvSendFrame(group_, "a picture", UniqueCmid());
    media_frame["type"] = "image";
    media_frame["media_id"] = media_;
    media_frame["id"] = "m";
    ASSERT_TRUE(ws->SendJson(media_frame));
    auto media_ack = ws->ReadUntil([](const json::object& f) { return Str(f, "id") == "m"; });
    ASSERT_TRUE(media_ack && Op(*media_ack) == "ack") << (media_ack ? Dump(*media_ack) : "none");
  }

  // The conversations as Alice sees them: Mallory's attempts changed nothing.
  void ExpectUntouched() {
    for (const std::string& conv : {direct_, group_}) {
      auto history = FetchAllHistory(http(), alice_.token, conv);
      for (const auto& entry : history) {
        EXPECT_NE(Str(entry, "sender"), mallory_.id) << Dump(entry);
        EXPECT_NE(Str(entry, "actor"), mallory_.id) << Dump(entry);
        EXPECT_FALSE(entry.contains("edited_at")) << Dump(entry);
        EXPECT_FALSE(entry.contains("deleted")) << Dump(entry);
        EXPECT_FALSE(entry.contains("reactions")) << Dump(entry);
      }
    }
    HttpResponse group = http().Get("/v1/groups/" + group_, alice_.token);
    ASSERT_EQ(group.status, 200) << group.Describe();
    EXPECT_EQ(Str(group.object(), "name"), "private");
    auto members = ToObjects(ArrayAt(group.object(), "members"));
    EXPECT_EQ(members.size(), 2u) << group.body;
    for (const auto& m : members) {
      if (Str(m, "user_id") == bob_.id) {
        EXPECT_EQ(Str(m, "role"), "member");
      }
    }
  }

  User alice_, bob_, mallory_;
  std::string group_, direct_, direct_msg_, group_msg_, media_, image_;
};

TEST_F(SecurityTest, NoHttpRouteReadsOrWritesAForeignConversation) {
  const std::string& m = mallory_.token;
  for (const std::string& conv : {direct_, group_}) {
    SCOPED_TRACE(conv);
    ExpectError(http().Get("/v1/conversations/" + conv + "/messages", m), 403, "forbidden",
                "history");
    ExpectError(http().Get("/v1/conversations/" + conv + "/messages?after_seq=0", m), 403,
                "forbidden", "history forward");
    ExpectError(http().Post("/v1/messages",
                            json::object{{"conversation_id", conv},
                                         {"content", "injected"},
                                         {"client_msg_id", UniqueCmid()}},
                            m),
                403, "forbidden", "send");
    ExpectError(http().Post("/v1/conversations/" + conv + "/receipts",
                            json::object{{"kind", "read"}, {"up_to_seq", 1}}, m),
                403, "forbidden", "receipts");
    ExpectError(http().Get("/v1/conversations/" + conv + "/settings", m), 403, "forbidden",
                "settings read");
    ExpectError(http().Request("PUT", "/v1/conversations/" + conv + "/settings",
                               R"({"disappear_after_s":1})", m),
                403, "forbidden", "settings write");
  }
  for (const auto& [conv, msg] : {std::pair{direct_, direct_msg_}, std::pair{group_, group_msg_}}) {
    json::object target{{"conversation_id", conv}, {"message_id", msg}};
    json::object edit = target, del = target, react = target;
    edit["content"] = "rewritten";
    edit["client_msg_id"] = UniqueCmid();
    del["scope"] = "everyone";
    del["client_msg_id"] = UniqueCmid();
    react["emoji"] = "x";
    react["client_msg_id"] = UniqueCmid();
    ExpectError(http().Post("/v1/messages/edit", edit, m), 403, "forbidden", "edit");
    ExpectError(http().Post("/v1/messages/delete", del, m), 403, "forbidden", "delete");
    ExpectError(http().Post("/v1/messages/react", react, m), 403, "forbidden", "react");
  }
  std::string g = "/v1/groups/" + group_;
  ExpectError(http().Get(g, m), 403, "forbidden", "group read");
  ExpectError(http().Request("PATCH", g, R"({"name":"owned"})", m), 403, "forbidden", "rename");
  ExpectError(http().Post(g + "/members", json::object{{"user_id", mallory_.id}}, m), 403,
              "forbidden", "add self");
  ExpectError(http().Request("PUT", g + "/members/" + mallory_.id, R"({"role":"admin"})", m), 403,
              "forbidden", "promote self");
  ExpectError(http().Request("PUT", g + "/members/" + bob_.id, R"({"role":"admin"})", m), 403,
              "forbidden", "promote other");
  ExpectError(http().Delete(g + "/members/" + bob_.id, m), 403, "forbidden", "remove member");
  ExpectError(http().Get("/v1/presence?users=" + alice_.id, m), 403, "forbidden", "presence");

  // Media that was only sent into the group: as if it did not exist.
  ExpectError(http().Get("/v1/media/" + media_, m), 404, "not_found", "media");
  ExpectError(http().Get("/v1/media/" + media_ + "/thumbnail", m), 404, "not_found", "thumbnail");
  EXPECT_EQ(http().Get("/v1/media/" + media_ + "/thumbnail", bob_.token).status, 200);
  EXPECT_EQ(http().Get("/v1/media/" + media_, bob_.token).body, image_);

  // Lists and sync show Mallory nothing of it.
  HttpResponse list = http().Get("/v1/conversations", m);
  ASSERT_EQ(list.status, 200) << list.Describe();
  EXPECT_TRUE(ArrayAt(list.object(), "conversations").empty()) << list.body;
  for (const auto& e : HttpSyncAll(http(), m)) {
    EXPECT_NE(Str(e, "conversation_id"), direct_) << Dump(e);
    EXPECT_NE(Str(e, "conversation_id"), group_) << Dump(e);
  }
  ExpectUntouched();
}

TEST_F(SecurityTest, NoWebSocketFrameReadsOrWritesAForeignConversation) {
  auto bob_ws = ConnectReady(port(), bob_.token);
  auto ws = ConnectReady(port(), mallory_.token);
  ASSERT_TRUE(bob_ws && ws);
  WsSyncAll(*bob_ws, nullptr);
  int n = 0;
  auto expect_refused = [&](json::object frame, std::string_view code) {
    std::string id = "f" + std::to_string(++n);
    frame["id"] = id;
    SCOPED_TRACE(Dump(frame));
    ASSERT_TRUE(ws->SendJson(frame));
    auto reply = ws->ReadUntil([&](const json::object& f) { return Str(f, "id") == id; });
    ASSERT_TRUE(reply) << "no reply";
    EXPECT_EQ(Op(*reply), "error") << Dump(*reply);
    EXPECT_EQ(Str(*reply, "code"), code) << Dump(*reply);
  };
  for (const auto& [conv, msg] : {std::pair{direct_, direct_msg_}, std::pair{group_, group_msg_}}) {
    expect_refused(ConvSendFrame(conv, "injected", UniqueCmid()), "forbidden");
    expect_refused({{"op", "history"}, {"conversation_id", conv}}, "forbidden");
    expect_refused({{"op", "history"}, {"conversation_id", conv}, {"after_seq", 0}}, "forbidden");
    expect_refused({{"op", "receipt"}, {"conversation_id", conv}, {"kind", "read"}, {"up_to_seq", 1}},
                   "forbidden");
    expect_refused({{"op", "typing"}, {"conversation_id", conv}, {"state", "start"}}, "forbidden");
    json::object target{{"conversation_id", conv}, {"message_id", msg}, {"client_msg_id", UniqueCmid()}};
    json::object edit = target, del = target, react = target;
    edit["op"] = "edit";
    edit["content"] = "rewritten";
    del["op"] = "delete";
    del["scope"] = "everyone";
    react["op"] = "react";
    react["emoji"] = "x";
    expect_refused(edit, "forbidden");
    expect_refused(del, "forbidden");
    expect_refused(react, "forbidden");
  }
  expect_refused({{"op", "presence.subscribe"}, {"users", json::array{alice_.id}}}, "forbidden");
  // A sync from the start carries nothing of theirs.
  for (const auto& f : WsSyncAll(*ws, nullptr)) {
    EXPECT_NE(Str(f, "conversation_id"), direct_) << Dump(f);
    EXPECT_NE(Str(f, "conversation_id"), group_) << Dump(f);
  }
  // The members saw none of it: no message, receipt, typing or event from Mallory.
  json::object got;
  EXPECT_TRUE(bob_ws->ExpectNoFrame(500ms, &got)) << Dump(got);
  ExpectUntouched();
}

TEST_F(SecurityTest, LogoutKillsTheTokenEverywhereAtOnce) {
  std::string t1 = Login(http(), bob_.id);
  std::string t2 = Login(http(), bob_.id);
  ASSERT_FALSE(t1.empty());
  ASSERT_FALSE(t2.empty());
  auto by_header = ConnectReady(port(), t1);
  auto by_frame = ConnectWith(port(), WsAuth::kNone);
  ASSERT_TRUE(by_frame->connected());
  ASSERT_TRUE(by_frame->SendJson({{"op", "auth"}, {"token", t1}}));
  ASSERT_TRUE(by_frame->ReadOp("ready"));
  auto other = ConnectReady(port(), t2);
  ASSERT_TRUE(by_header && other);
  // A long-poll waiting with the token, from the end of what there is.
  std::string cursor;
  HttpSyncAll(http(), t1, {}, &cursor);
  HttpResponse poll;
  std::thread poller([&] {
    HttpClient client(port(), 30s);
    poll = client.Get("/v1/sync?timeout=20&cursor=" + UrlEncode(cursor), t1);
  });
  std::this_thread::sleep_for(300ms);  // let it start waiting (a 401 comes either way)

  HttpResponse out = http().Delete("/v1/sessions", t1);
  EXPECT_EQ(out.status, 204) << out.Describe();
  EXPECT_TRUE(by_header->WaitClosed(5s));
  EXPECT_EQ(by_header->CloseCode(), 1008);
  EXPECT_TRUE(by_frame->WaitClosed(5s));
  EXPECT_EQ(by_frame->CloseCode(), 1008);
  poller.join();
  ExpectError(poll, 401, "unauthorized", "long-poll of a revoked token");

  // Nothing takes the token any more; the other token of the same user lives on.
  ExpectError(http().Get("/v1/conversations", t1), 401, "unauthorized", "http");
  ExpectError(http().Delete("/v1/sessions", t1), 401, "unauthorized", "second logout");
  auto again = ConnectWith(port(), WsAuth::kHeader, t1);
  EXPECT_EQ(again->handshake_status(), 401);
  auto again_frame = ConnectWith(port(), WsAuth::kNone);
  ASSERT_TRUE(again_frame->SendJson({{"op", "auth"}, {"token", t1}}));
  auto refused = again_frame->ReadFrame();
  ASSERT_TRUE(refused);
  EXPECT_EQ(Str(*refused, "code"), "unauthorized") << Dump(*refused);
  EXPECT_TRUE(again_frame->WaitClosed(5s));
  EXPECT_TRUE(PingPong(*other));
  EXPECT_EQ(http().Get("/v1/conversations", t2).status, 200);
}

TEST_F(SecurityTest, TokensMatchOnlyExactly) {
  std::string token = Login(http(), bob_.id);
  ASSERT_FALSE(token.empty());
  std::string flipped_last = token;
  flipped_last.back() = flipped_last.back() == 'A' ? 'B' : 'A';
  std::string flipped_first = token;
  flipped_first.front() = flipped_first.front() == 'A' ? 'B' : 'A';
  for (const std::string& near :
       {flipped_last, flipped_first, token.substr(0, token.size() - 1), token + "A",
        token.substr(0, 16), std::string(600, 'A')}) {
    ExpectError(http().Get("/v1/conversations", near), 401, "unauthorized", near.substr(0, 40));
  }
  EXPECT_EQ(http().Get("/v1/conversations", token).status, 200);
}

TEST_F(SecurityTest, LoginTellsNothingAboutWhichUsersExist) {
  auto checks = [&] { return ScrapeMetric(http(), "parley_password_checks_total").value_or(-1); };
  double before = checks();
  HttpResponse wrong_password =
      http().Post("/v1/sessions", json::object{{"user_id", bob_.id}, {"password", "not his one"}});
  HttpResponse unknown_user = http().Post(
      "/v1/sessions", json::object{{"user_id", UniqueUser("ghost")}, {"password", "not his one"}});
  HttpResponse invalid_id =
      http().Post("/v1/sessions", json::object{{"user_id", "No Such!"}, {"password", "whatever1"}});
  for (const HttpResponse* r : {&wrong_password, &unknown_user, &invalid_id}) {
    ExpectError(*r, 401, "unauthorized", r->body);
    EXPECT_EQ(r->body, wrong_password.body);
    EXPECT_EQ(r->Header("Retry-After"), "");
  }
  // The same work too: every attempt verified a password hash (a dummy one for unknown users).
  EXPECT_EQ(checks(), before + 3);
}

TEST_F(SecurityTest, DeepOrAmplifyingJsonIsRefused) {
  // Depth: 16 levels pass, 17 do not.
  std::string ok = R"({"op":"ping","id":"d","x":)" + NestedArrays(15) + "}";
  std::string deep = R"({"op":"ping","id":"d","x":)" + NestedArrays(16) + "}";
  auto ws = ConnectReady(port(), bob_.token);
  ASSERT_TRUE(ws);
  ASSERT_TRUE(ws->SendText(ok));
  auto pong = ws->ReadOp("pong");
  ASSERT_TRUE(pong) << "a 16-deep frame was refused";
  ASSERT_TRUE(ws->SendText(deep));
  auto refused = ws->ReadOp("error");
  ASSERT_TRUE(refused);
  EXPECT_EQ(Str(*refused, "code"), "bad_request") << Dump(*refused);
  EXPECT_NE(Str(*refused, "message").find("deeper"), std::string::npos) << Dump(*refused);
  EXPECT_TRUE(PingPong(*ws));
  HttpResponse r = http().Request("POST", "/v1/users",
                                  R"({"user_id":"deep_one","password":"password1","x":)" +
                                      NestedArrays(20) + "}");
  ExpectError(r, 400, "bad_request", "deep body");
  EXPECT_NE(r.body.find("deeper"), std::string::npos) << r.body;
  // 10,000 nested levels: refused the same way, no stack exhaustion.
  ExpectError(http().Request("POST", "/v1/sessions", NestedArrays(10'000)), 400, "bad_request",
              "very deep body");

  // Amplification: under the body limit, but half a million values in memory.
  std::string many = R"({"user_id":"amp_one","password":"password1","x":[0)";
  while (many.size() < 1'000'000) many += ",0";
  many += "]}";
  ExpectError(http().Request("POST", "/v1/users", many), 413, "too_large", "amplifying body");
  // A big document that is mostly one string is fine: memory follows its size.
  std::string big_string = R"({"user_id":"big_one","password":"password1","x":")" +
                           std::string(900'000, 'a') + "\"}";
  EXPECT_EQ(http().Request("POST", "/v1/users", big_string).status, 201);
}

TEST_F(SecurityTest, InvalidUtf8IsRefused) {
  std::string bad = "{\"user_id\":\"utf\xff\xfe\",\"password\":\"password1\"}";
  ExpectError(http().Request("POST", "/v1/users", bad), 400, "bad_request", "http body");
  std::string overlong = "{\"user_id\":\"utf\xc0\xaf\",\"password\":\"password1\"}";
  ExpectError(http().Request("POST", "/v1/sessions", overlong), 400, "bad_request", "overlong");
  std::string send = "{\"to\":\"" + alice_.id + "\",\"content\":\"a\xed\xa0\x80z\",\"client_msg_id\":\"u\"}";
  ExpectError(http().Request("POST", "/v1/messages", send, bob_.token), 400, "bad_request",
              "surrogate in content");
  // A WebSocket text frame must be UTF-8 (RFC 6455): invalid ones fail the connection with 1007.
  auto ws = ConnectReady(port(), bob_.token);
  ASSERT_TRUE(ws);
  ASSERT_TRUE(ws->SendText("{\"op\":\"ping\",\"id\":\"\xff\"}"));
  EXPECT_TRUE(ws->WaitClosed(5s));
  EXPECT_EQ(ws->CloseCode(), 1007);
  // Nothing of it was stored.
  for (const auto& e : FetchAllHistory(http(), alice_.token, direct_)) {
    EXPECT_EQ(Str(e, "content").find('z'), std::string::npos) << Dump(e);
  }
}

// A WebSocket frame may be 4 MiB here, so the JSON memory bound is what refuses it.
class BigFrameSecurityTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override { return {"--max-frame-bytes", "4194304"}; }
};

TEST_F(BigFrameSecurityTest, AmplifyingFrameIsTooLargeAndTheConnectionStays) {
  auto user = NewUser("amp");
  auto ws = ConnectReady(port(), user.token);
  ASSERT_TRUE(ws);
  std::string frame = R"({"op":"ping","id":"amp","x":[0)";
  while (frame.size() < 3'000'000) frame += ",0";
  frame += "]}";
  ASSERT_TRUE(ws->SendText(frame));
  auto refused = ws->ReadOp("error", 10s);
  ASSERT_TRUE(refused);
  EXPECT_EQ(Str(*refused, "code"), "too_large") << Dump(*refused);
  EXPECT_TRUE(PingPong(*ws));
}

class RegisterRateTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override { return {"--register-rate-per-min", "4"}; }
};

TEST_F(RegisterRateTest, RegistrationsPerAddressAreLimited) {
  int created = 0;
  HttpResponse last;
  for (int i = 0; i < 5 && last.status != 429; ++i) {
    last = http().Post("/v1/users",
                       json::object{{"user_id", UniqueUser("reg")}, {"password", kPassword}});
    if (last.status == 201) ++created;
  }
  EXPECT_EQ(created, 2);  // a burst of half a minute's worth
  ExpectError(last, 429, "rate_limited", "third registration");
  EXPECT_GE(std::stoi("0" + last.Header("Retry-After")), 1) << last.Describe();
}

class AddressSendRateTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--send-rate", "1000", "--send-burst", "1000", "--address-send-rate", "0.1",
            "--address-send-burst", "4"};
  }
};

TEST_F(AddressSendRateTest, UsersOfOneAddressShareItsBucket) {
  auto a = NewUser("a");
  auto b = NewUser("b");
  auto c = NewUser("c");
  auto wa = ConnectReady(port(), a.token);
  auto wb = ConnectReady(port(), b.token);
  ASSERT_TRUE(wa && wb);
  for (int i = 0; i < 2; ++i) {
    auto ack = SendAndAck(*wa, c.id, "hi", UniqueCmid());
    ASSERT_TRUE(ack && Op(*ack) == "ack") << (ack ? Dump(*ack) : "none");
  }
  auto ack = SendAndAck(*wb, c.id, "hi", UniqueCmid());
  ASSERT_TRUE(ack && Op(*ack) == "ack");
  HttpResponse http_send = http().Post(
      "/v1/messages", json::object{{"to", c.id}, {"content", "hi"}, {"client_msg_id", UniqueCmid()}},
      b.token);
  EXPECT_EQ(http_send.status, 201) << http_send.Describe();
  // Four from the address: the fifth waits, whoever sends it and however.
  auto limited = SendAndAck(*wb, c.id, "hi", UniqueCmid());
  ASSERT_TRUE(limited);
  EXPECT_EQ(Op(*limited), "error") << Dump(*limited);
  EXPECT_EQ(Str(*limited, "code"), "rate_limited") << Dump(*limited);
  EXPECT_GT(Int(*limited, "retry_after_ms"), 0) << Dump(*limited);
  EXPECT_TRUE(wb->IsOpen());
  HttpResponse refused = http().Post(
      "/v1/messages", json::object{{"to", c.id}, {"content", "hi"}, {"client_msg_id", UniqueCmid()}},
      a.token);
  ExpectError(refused, 429, "rate_limited", "http send");
  EXPECT_GE(std::stoi("0" + refused.Header("Retry-After")), 1) << refused.Describe();
  HttpResponse react = http().Post(
      "/v1/messages/react",
      json::object{{"conversation_id", Str(*ack, "conversation_id")},
                   {"message_id", Str(*ack, "message_id")},
                   {"emoji", "x"},
                   {"client_msg_id", UniqueCmid()}},
      b.token);
  ExpectError(react, 429, "rate_limited", "message change");
}

class UploadRateTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--upload-rate-per-min", "2", "--address-upload-rate-per-min", "4"};
  }
  HttpResponse Upload(const User& u) {
    return http().Request("POST", "/v1/media", "bytes", u.token, TypeHeader("text/plain"));
  }
};

TEST_F(UploadRateTest, UploadsArePerUserAndPerAddress) {
  auto a = NewUser("a");
  auto b = NewUser("b");
  auto c = NewUser("c");
  EXPECT_EQ(Upload(a).status, 201);
  HttpResponse again = Upload(a);  // the user's burst is one
  ExpectError(again, 429, "rate_limited", "second upload of a user");
  EXPECT_GE(std::stoi("0" + again.Header("Retry-After")), 1) << again.Describe();
  EXPECT_EQ(Upload(b).status, 201);  // another user, same address: its burst is two
  ExpectError(Upload(c), 429, "rate_limited", "third upload of the address");
}

}  // namespace
}  // namespace parley::testing
