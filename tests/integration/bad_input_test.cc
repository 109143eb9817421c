// Bad input over WebSocket and HTTP: each gets the documented error, the
// connection stays usable where SPEC §4 says so, and the server keeps
// serving everyone else.
#include <gtest/gtest.h>

#include <thread>

#include "testing/helpers.h"

namespace parley::testing {
namespace {

class BadInputTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--send-rate", "100000", "--send-burst", "100000"};
  }

  void SetUp() override {
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    alice_ = NewUser("alice");
    bob_ = NewUser("bob");
    ws_ = ConnectReady(port(), alice_.token);
  }

  // Sends `text` and expects an error frame with `code` (and `id` echoed if
  // given) as the next frame; then the connection must still answer a ping.
  void ExpectWsError(std::string_view text, std::string_view code, std::string_view id = {}) {
    SCOPED_TRACE(std::string(text.substr(0, 200)));
    ASSERT_TRUE(ws_->SendText(text)) << ws_->error();
    auto f = ws_->ReadFrame(5s);
    ASSERT_TRUE(f) << "no reply; open=" << ws_->IsOpen() << " " << ws_->error();
    EXPECT_EQ(Op(*f), "error") << Dump(*f);
    EXPECT_EQ(Str(*f, "code"), code) << Dump(*f);
    EXPECT_TRUE(f->contains("message")) << Dump(*f);
    if (!id.empty()) {
      EXPECT_EQ(Str(*f, "id"), id) << Dump(*f);
    }
    EXPECT_TRUE(PingPong(*ws_)) << "connection unusable after a bad frame";
  }

  // A fresh pair of users can still exchange a message.
  void ExpectServerStillServes() {
    auto c = NewUser("carl");
    auto d = NewUser("dora");
    auto cw = ConnectReady(port(), c.token);
    auto dw = ConnectReady(port(), d.token);
    auto ack = SendAndAck(*cw, d.id, "still alive", UniqueCmid());
    ASSERT_TRUE(ack && Op(*ack) == "ack") << (ack ? Dump(*ack) : "no ack");
    EXPECT_TRUE(dw->ReadOp("message", 10s)) << "delivery broken";
  }

  std::string Send(json::object fields) {
    json::object f{{"op", "send"}, {"id", "bad"}};
    for (auto& [k, v] : fields) f[k] = v;
    return json::serialize(f);
  }

  User alice_, bob_;
  std::unique_ptr<WsClient> ws_;
};

TEST_F(BadInputTest, MalformedJsonAndNonObjects) {
  ExpectWsError("{not json", "bad_request");
  ExpectWsError("[1,2,3]", "bad_request");
  ExpectWsError("\"just a string\"", "bad_request");
  ExpectWsError("", "bad_request");
  ExpectServerStillServes();
}

TEST_F(BadInputTest, UnknownOrMissingOp) {
  ExpectWsError(R"({"op":"teleport","id":"u1"})", "bad_request", "u1");
  ExpectWsError(R"({"id":"u2","to":"x"})", "bad_request", "u2");
  ExpectWsError(R"({"op":42,"id":"u3"})", "bad_request", "u3");
  ExpectServerStillServes();
}

TEST_F(BadInputTest, SendWithMissingFields) {
  std::string cmid = UniqueCmid();
  ExpectWsError(Send({{"to", bob_.id}, {"type", "text"}, {"client_msg_id", cmid}}), "bad_request", "bad");
  ExpectWsError(Send({{"content", "x"}, {"type", "text"}, {"client_msg_id", cmid}}), "bad_request", "bad");
  ExpectWsError(Send({{"to", bob_.id}, {"content", "x"}, {"type", "text"}}), "bad_request", "bad");
  ExpectWsError(R"({"op":"history","id":"h"})", "bad_request", "h");
  ExpectWsError(R"({"op":"receipt","id":"r","kind":"read"})", "bad_request", "r");
  // Nothing was stored by the rejected sends.
  auto ack = SendAndAck(*ws_, bob_.id, "valid", UniqueCmid());
  ASSERT_TRUE(ack && Op(*ack) == "ack");
  EXPECT_EQ(MessagesOnly(FetchAllHistory(http(), alice_.token, Str(*ack, "conversation_id"))).size(), 1u);
  ExpectServerStillServes();
}

TEST_F(BadInputTest, SendWithWrongTypes) {
  std::string cmid = UniqueCmid();
  ExpectWsError(Send({{"to", bob_.id}, {"content", 5}, {"type", "text"}, {"client_msg_id", cmid}}), "bad_request", "bad");
  ExpectWsError(Send({{"to", 5}, {"content", "x"}, {"type", "text"}, {"client_msg_id", cmid}}), "bad_request", "bad");
  ExpectWsError(Send({{"to", bob_.id}, {"content", "x"}, {"type", "text"}, {"client_msg_id", 7}}), "bad_request", "bad");
  ExpectWsError(Send({{"to", json::array{bob_.id}}, {"content", "x"}, {"type", "text"}, {"client_msg_id", cmid}}), "bad_request", "bad");
  ExpectWsError(Send({{"to", bob_.id}, {"content", json::object{}}, {"type", "text"}, {"client_msg_id", cmid}}), "bad_request", "bad");
  ExpectWsError(R"({"op":"history","id":"h","conversation_id":5})", "bad_request", "h");
  ExpectServerStillServes();
}

TEST_F(BadInputTest, ClientMsgIdLength) {
  auto frame = [&](std::string cmid) {
    return Send({{"to", bob_.id}, {"content", "x"}, {"type", "text"}, {"client_msg_id", cmid}});
  };
  ExpectWsError(frame(""), "bad_request", "bad");
  ExpectWsError(frame(std::string(65, 'k')), "bad_request", "bad");
  for (std::string ok : {std::string(64, 'k'), std::string("k")}) {
    auto ack = SendAndAck(*ws_, bob_.id, "x", ok);
    ASSERT_TRUE(ack);
    EXPECT_EQ(Op(*ack), "ack") << "client_msg_id of " << ok.size() << " chars: " << Dump(*ack);
  }
}

TEST_F(BadInputTest, OversizeContentIsTooLargeAndConnectionStays) {
  auto b = ConnectReady(port(), bob_.token);
  ExpectWsError(Send({{"to", bob_.id}, {"content", std::string(16385, 'a')}, {"type", "text"},
                      {"client_msg_id", UniqueCmid()}}),
                "too_large", "bad");
  // Well over the content limit, still under the frame limit.
  ExpectWsError(Send({{"to", bob_.id}, {"content", std::string(60000, 'a')}, {"type", "text"},
                      {"client_msg_id", UniqueCmid()}}),
                "too_large", "bad");
  auto ack = SendAndAck(*ws_, bob_.id, std::string(16384, 'b'), UniqueCmid());
  ASSERT_TRUE(ack);
  EXPECT_EQ(Op(*ack), "ack") << "content of exactly 16384 bytes: " << Dump(*ack);
  auto m = b->ReadOp("message", 10s);
  ASSERT_TRUE(m);
  EXPECT_EQ(Str(*m, "content").size(), 16384u);
}

TEST_F(BadInputTest, OversizeFrameIsClosedWith1009) {
  std::string big = R"({"op":"ping","pad":")" + std::string(70 * 1024, 'z') + "\"}";
  ws_->SendText(big);  // the server may close while we are still writing
  ASSERT_TRUE(ws_->WaitClosed(10s)) << "still open after a 70 KiB frame";
  EXPECT_EQ(ws_->CloseCode(), std::optional<int>(1009)) << ws_->error();
  ExpectServerStillServes();
}

TEST_F(BadInputTest, BinaryFrameGetsErrorAndConnectionStays) {
  ASSERT_TRUE(ws_->SendBinary(std::string("\x00\x01\x02\xff", 4)));
  auto f = ws_->ReadFrame(5s);
  ASSERT_TRUE(f) << ws_->error();
  EXPECT_EQ(Op(*f), "error") << Dump(*f);
  EXPECT_EQ(Str(*f, "code"), "bad_request") << Dump(*f);
  EXPECT_TRUE(PingPong(*ws_));
  ExpectServerStillServes();
}

TEST_F(BadInputTest, InvalidAndUnknownRecipients) {
  for (std::string bad : {std::string("NOT VALID!"), std::string("x"), std::string(40, 'y')}) {
    ExpectWsError(Send({{"to", bad}, {"content", "x"}, {"type", "text"}, {"client_msg_id", UniqueCmid()}}),
                  "bad_request", "bad");
  }
  ExpectWsError(Send({{"to", UniqueUser("ghost")}, {"content", "x"}, {"type", "text"},
                      {"client_msg_id", UniqueCmid()}}),
                "not_found", "bad");
  auto res = http().Post("/v1/messages", SendFrame(UniqueUser("ghost"), "x", UniqueCmid()), alice_.token);
  EXPECT_EQ(res.status, 404) << res.Describe();
  EXPECT_EQ(res.ErrorCode(), "not_found");
  ExpectServerStillServes();
}

TEST_F(BadInputTest, WritingIntoAForeignConversationIsForbidden) {
  auto carol = NewUser("carol");
  auto cw = ConnectReady(port(), carol.token);
  auto ack = SendAndAck(*cw, bob_.id, "private", UniqueCmid());
  ASSERT_TRUE(ack && Op(*ack) == "ack");
  std::string conv = Str(*ack, "conversation_id");
  ExpectWsError(Send({{"conversation_id", conv}, {"content", "intrude"}, {"type", "text"},
                      {"client_msg_id", UniqueCmid()}}),
                "forbidden", "bad");
  ExpectWsError(R"({"op":"history","id":"h","conversation_id":")" + conv + "\"}", "forbidden", "h");
  json::object body{{"conversation_id", conv}, {"content", "intrude"}, {"type", "text"}, {"client_msg_id", UniqueCmid()}};
  auto res = http().Post("/v1/messages", body, alice_.token);
  EXPECT_EQ(res.status, 403) << res.Describe();
  EXPECT_EQ(res.ErrorCode(), "forbidden");
  auto history = MessagesOnly(FetchAllHistory(http(), bob_.token, conv));
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(Str(history[0], "content"), "private");
}

TEST_F(BadInputTest, HttpUnknownPathAndBadMethod) {
  for (std::string path : {"/v1/nope", "/nope", "/v1/conversations/x/nope/y"}) {
    auto res = http().Get(path, alice_.token);
    EXPECT_EQ(res.status, 404) << path << ": " << res.Describe();
    EXPECT_EQ(res.ErrorCode(), "not_found") << path;
    EXPECT_TRUE(res.IsErrorShape()) << res.body;
  }
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"PUT", "/v1/users"}, {"GET", "/v1/users"}, {"PATCH", "/v1/sessions"},
           {"GET", "/v1/messages"}, {"DELETE", "/v1/messages"}, {"POST", "/healthz"}}) {
    auto res = http().Request(method, path, {}, alice_.token);
    EXPECT_EQ(res.status, 405) << method << " " << path << ": " << res.Describe();
    EXPECT_EQ(res.ErrorCode(), "bad_request") << method << " " << path;
    EXPECT_TRUE(res.IsErrorShape()) << res.body;
  }
}

TEST_F(BadInputTest, HttpNonJsonAndMalformedBodies) {
  auto check = [&](std::string path, std::string body, std::string token) {
    auto res = http().Request("POST", path, body, token);
    EXPECT_EQ(res.status, 400) << path << " body " << body << ": " << res.Describe();
    EXPECT_EQ(res.ErrorCode(), "bad_request");
    EXPECT_TRUE(res.IsErrorShape()) << res.body;
  };
  check("/v1/users", "not json", "");
  check("/v1/users", "[]", "");
  check("/v1/sessions", "{\"user_id\":", "");
  check("/v1/messages", "{", alice_.token);
  check("/v1/messages", R"({"to":")" + bob_.id + R"(","content":"x","type":"text"})", alice_.token);
  check("/v1/messages", R"({"to":")" + bob_.id + R"(","content":"x","type":"text","client_msg_id":""})", alice_.token);
  auto big_content = http().Post("/v1/messages", SendFrame(bob_.id, std::string(16385, 'c'), UniqueCmid()), alice_.token);
  EXPECT_EQ(big_content.status, 413) << big_content.Describe();
  EXPECT_EQ(big_content.ErrorCode(), "too_large");
  ExpectServerStillServes();
}

TEST_F(BadInputTest, HttpHugeBodyIs413) {
  std::string huge = R"({"to":"x","type":"text","client_msg_id":"c","content":")" + std::string(4 << 20, 'h') + "\"}";
  auto res = http().Request("POST", "/v1/messages", huge, alice_.token);
  EXPECT_EQ(res.status, 413) << res.Describe();
  EXPECT_EQ(res.ErrorCode(), "too_large");
  auto reg = http().Request("POST", "/v1/users", huge);
  EXPECT_EQ(reg.status, 413) << reg.Describe();
  ExpectServerStillServes();
}

TEST_F(BadInputTest, GarbageHttpRequestDoesNotHurtTheServer) {
  for (std::string raw : {std::string("GARBAGE\r\n\r\n"), std::string("GET / HTTP/9.9\r\n\r\n"),
                          std::string("POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n"),
                          std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)}) {
    auto res = http().SendRaw(raw);
    EXPECT_TRUE(res.status == 0 || (res.status >= 400 && res.status < 500)) << res.Describe();
  }
  EXPECT_EQ(http().Get("/healthz").status, 200);
  ExpectServerStillServes();
}

class RateLimitTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override { return {"--send-rate", "1", "--send-burst", "2"}; }
};

TEST_F(RateLimitTest, ExcessSendsAreRateLimited) {
  auto alice = NewUser("alice");
  auto bob = NewUser("bob");
  auto a = ConnectReady(port(), alice.token);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(a->SendJson(SendFrame(bob.id, "r", UniqueCmid())));
  int acks = 0, limited = 0;
  for (int i = 0; i < 10; ++i) {
    auto f = a->ReadUntil([](auto& f) { return Op(f) == "ack" || Op(f) == "error"; }, 10s);
    if (!f) break;
    if (Op(*f) == "ack") ++acks;
    if (Op(*f) == "error") {
      EXPECT_EQ(Str(*f, "code"), "rate_limited") << Dump(*f);
      ++limited;
    }
  }
  EXPECT_GE(acks, 2);
  EXPECT_GE(limited, 1);
  EXPECT_EQ(acks + limited, 10);

  HttpResponse last;
  for (int i = 0; i < 10 && last.status != 429; ++i) {
    last = http().Post("/v1/messages", SendFrame(bob.id, "h", UniqueCmid()), alice.token);
  }
  ASSERT_EQ(last.status, 429) << last.Describe();
  EXPECT_EQ(last.ErrorCode(), "rate_limited");
  EXPECT_FALSE(last.Header("Retry-After").empty());
  // Other users are not limited by alice's budget.
  auto b = ConnectReady(port(), bob.token);
  auto ack = SendAndAck(*b, alice.id, "bob is fine", UniqueCmid());
  ASSERT_TRUE(ack);
  EXPECT_EQ(Op(*ack), "ack") << Dump(*ack);
}

}  // namespace
}  // namespace parley::testing
