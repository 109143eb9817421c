// Registration, login, logout and WebSocket authentication (SPEC §2, §3, §4).
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "testing/helpers.h"

namespace parley::testing {
namespace {

class AuthTest : public ServerTest {};

TEST_F(AuthTest, RegisterReturns201AndDuplicateIs409) {
  std::string user = UniqueUser("reg");
  auto res = http().Post("/v1/users", json::object{{"user_id", user}, {"password", kPassword}});
  ASSERT_EQ(res.status, 201) << res.Describe();
  EXPECT_EQ(Str(res.object(), "user_id"), user);

  auto again = http().Post("/v1/users", json::object{{"user_id", user}, {"password", "other password"}});
  EXPECT_EQ(again.status, 409) << again.Describe();
  EXPECT_EQ(again.ErrorCode(), "conflict");
  EXPECT_TRUE(again.IsErrorShape()) << again.body;
}

TEST_F(AuthTest, RegisterCaseFoldsUserIdAndTakenIgnoresCase) {
  std::string user = UniqueUser("mixed");
  std::string upper = user;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto res = http().Post("/v1/users", json::object{{"user_id", upper}, {"password", kPassword}});
  ASSERT_EQ(res.status, 201) << res.Describe();
  EXPECT_EQ(Str(res.object(), "user_id"), user);
  auto again = http().Post("/v1/users", json::object{{"user_id", user}, {"password", kPassword}});
  EXPECT_EQ(again.status, 409) << again.Describe();
}

TEST_F(AuthTest, RegisterWithDisplayNameIsAccepted) {
  std::string user = UniqueUser("disp");
  auto res = http().Post("/v1/users", json::object{{"user_id", user},
                                                   {"password", kPassword},
                                                   {"display_name", "Display Name"}});
  EXPECT_EQ(res.status, 201) << res.Describe();
}

TEST_F(AuthTest, RegisterRejectsInvalidUserIds) {
  json::array bad_ids = {"ab",  std::string(33, 'a'), "has space", "bad!char",
                                      "",    "slash/x",            "caf\xc3\xa9x", "semi;colon",
                                      42,    nullptr};
  for (auto const& id : bad_ids) {
    auto res = http().Post("/v1/users", json::object{{"user_id", id}, {"password", kPassword}});
    EXPECT_EQ(res.status, 400) << "user_id " << Dump(id) << ": " << res.Describe();
    EXPECT_EQ(res.ErrorCode(), "bad_request") << "user_id " << Dump(id);
    EXPECT_TRUE(res.IsErrorShape()) << res.body;
  }
  auto missing = http().Post("/v1/users", json::object{{"password", kPassword}});
  EXPECT_EQ(missing.status, 400) << missing.Describe();
  // Boundaries that are valid: 3 and 32 chars, every allowed character class.
  for (std::string ok : {UniqueUser("").substr(0, 3), std::string("ok.") + UniqueUser("x"),
                         std::string(32 - 8, 'z') + UniqueUser("").substr(0, 8)}) {
    auto res = http().Post("/v1/users", json::object{{"user_id", ok}, {"password", kPassword}});
    EXPECT_EQ(res.status, 201) << "user_id " << ok << ": " << res.Describe();
  }
  auto dashy = http().Post("/v1/users", json::object{{"user_id", "a-b_c.d" + UniqueUser("").substr(0, 6)},
                                                     {"password", kPassword}});
  EXPECT_EQ(dashy.status, 201) << dashy.Describe();
}

TEST_F(AuthTest, RegisterEnforcesPasswordLength) {
  auto post = [&](std::string user, std::string password) {
    return http().Post("/v1/users", json::object{{"user_id", user}, {"password", password}});
  };
  auto too_short = post(UniqueUser("pw"), "1234567");
  EXPECT_EQ(too_short.status, 400) << too_short.Describe();
  EXPECT_EQ(too_short.ErrorCode(), "bad_request");
  auto too_long = post(UniqueUser("pw"), std::string(1025, 'p'));
  EXPECT_EQ(too_long.status, 400) << too_long.Describe();
  auto not_string = http().Post("/v1/users", json::object{{"user_id", UniqueUser("pw")}, {"password", 12345678}});
  EXPECT_EQ(not_string.status, 400) << not_string.Describe();

  std::string u8 = UniqueUser("pw");
  EXPECT_EQ(post(u8, "12345678").status, 201);
  EXPECT_FALSE(Login(http(), u8, "12345678").empty());
  std::string u1024 = UniqueUser("pw");
  std::string long_pw(1024, 'q');
  EXPECT_EQ(post(u1024, long_pw).status, 201);
  EXPECT_FALSE(Login(http(), u1024, long_pw).empty());
}

TEST_F(AuthTest, LoginReturnsTokenUserIdAndExpiry) {
  std::string user = UniqueUser("login");
  ASSERT_EQ(http().Post("/v1/users", json::object{{"user_id", user}, {"password", kPassword}}).status, 201);
  auto res = http().Post("/v1/sessions",
                         json::object{{"user_id", user}, {"password", kPassword}, {"device", "test"}});
  ASSERT_EQ(res.status, 200) << res.Describe();
  auto body = res.object();
  EXPECT_EQ(Str(body, "user_id"), user);
  std::string token = Str(body, "token");
  EXPECT_GE(token.size(), 22u) << "token too short for 128 random bits: " << token;
  auto expires = IntOpt(body, "expires_at");
  ASSERT_TRUE(expires) << res.body;
  EXPECT_GT(*expires, NowMs());  // default TTL is 30 days
  // Two logins give two different tokens, both valid.
  std::string second = Login(http(), user);
  EXPECT_NE(second, token);
  EXPECT_EQ(http().Get("/v1/conversations", token).status, 200);
  EXPECT_EQ(http().Get("/v1/conversations", second).status, 200);
}

TEST_F(AuthTest, LoginWrongPasswordOrUnknownUserIs401) {
  auto alice = NewUser("alice");
  auto wrong = http().Post("/v1/sessions", json::object{{"user_id", alice.id}, {"password", "wrong password"}});
  EXPECT_EQ(wrong.status, 401) << wrong.Describe();
  EXPECT_EQ(wrong.ErrorCode(), "unauthorized");
  EXPECT_TRUE(wrong.IsErrorShape()) << wrong.body;
  auto unknown = http().Post("/v1/sessions", json::object{{"user_id", UniqueUser("ghost")}, {"password", kPassword}});
  EXPECT_EQ(unknown.status, 401) << unknown.Describe();
  EXPECT_EQ(unknown.ErrorCode(), "unauthorized");
}

TEST_F(AuthTest, LoginCaseFoldsUserId) {
  auto carol = NewUser("carol");
  std::string upper = carol.id;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto res = http().Post("/v1/sessions", json::object{{"user_id", upper}, {"password", kPassword}});
  ASSERT_EQ(res.status, 200) << res.Describe();
  EXPECT_EQ(Str(res.object(), "user_id"), carol.id);
  json::object ready;
  auto ws = ConnectReady(port(), Str(res.object(), "token"), &ready);
  EXPECT_EQ(Str(ready, "user_id"), carol.id);
}

TEST_F(AuthTest, LogoutRevokesOnlyThatToken) {
  auto dave = NewUser("dave");
  std::string other = Login(http(), dave.id);
  ASSERT_FALSE(other.empty());
  auto out = http().Delete("/v1/sessions", dave.token);
  EXPECT_EQ(out.status, 204) << out.Describe();
  auto after = http().Get("/v1/conversations", dave.token);
  EXPECT_EQ(after.status, 401) << after.Describe();
  EXPECT_EQ(after.ErrorCode(), "unauthorized");
  EXPECT_EQ(http().Delete("/v1/sessions", dave.token).status, 401);
  EXPECT_EQ(http().Get("/v1/conversations", other).status, 200);
  // The revoked token no longer opens a WebSocket.
  WsOptions opt;
  opt.token = dave.token;
  auto ws = WsClient::Connect(port(), opt);
  EXPECT_FALSE(ws->connected());
  EXPECT_EQ(ws->handshake_status(), 401);
}

TEST_F(AuthTest, RestartKeepsUsersAndTokens) {
  auto erin = NewUser("erin");
  auto frank = NewUser("frank");
  auto revoked = Login(http(), erin.id);
  ASSERT_EQ(http().Delete("/v1/sessions", revoked).status, 204);
  ASSERT_EQ(server_->Stop(), 0) << server_->LogTail();
  ASSERT_TRUE(RestartServer()) << server_->error();
  EXPECT_EQ(http().Get("/v1/conversations", erin.token).status, 200);
  EXPECT_EQ(http().Get("/v1/conversations", revoked).status, 401);
  EXPECT_FALSE(Login(http(), frank.id).empty());
  auto taken = http().Post("/v1/users", json::object{{"user_id", erin.id}, {"password", kPassword}});
  EXPECT_EQ(taken.status, 409) << taken.Describe();
  auto ws = ConnectReady(port(), erin.token);
  EXPECT_TRUE(ws->IsOpen());
}

// --- WebSocket authentication ---

void ExpectReadyFields(const json::object& ready, const std::string& user) {
  EXPECT_EQ(Op(ready), "ready");
  EXPECT_EQ(Str(ready, "user_id"), user);
  auto* sid = ready.if_contains("session_id");
  EXPECT_TRUE(sid && ((sid->is_string() && !sid->as_string().empty()) || sid->is_number()))
      << Dump(ready);
  EXPECT_TRUE(ready.contains("node")) << Dump(ready);
  auto t = IntOpt(ready, "server_time");
  ASSERT_TRUE(t) << Dump(ready);
  EXPECT_GT(*t, 1'600'000'000'000) << "server_time must be ms since the epoch";
}

TEST_F(AuthTest, WsAuthByHeader) {
  auto gina = NewUser("gina");
  json::object ready;
  auto ws = ConnectReady(port(), gina.token, &ready);
  ExpectReadyFields(ready, gina.id);
  EXPECT_TRUE(PingPong(*ws));
}

TEST_F(AuthTest, WsAuthByQueryToken) {
  auto hank = NewUser("hank");
  WsOptions opt;
  opt.auth = WsAuth::kQuery;
  opt.token = hank.token;
  auto ws = WsClient::Connect(port(), opt);
  ASSERT_TRUE(ws->connected()) << ws->handshake_status() << " " << ws->error();
  auto ready = ws->ReadFrame(5s);
  ASSERT_TRUE(ready);
  ExpectReadyFields(*ready, hank.id);
}

TEST_F(AuthTest, WsAuthByFirstFrame) {
  auto ivy = NewUser("ivy");
  WsOptions opt;
  opt.auth = WsAuth::kNone;
  auto ws = WsClient::Connect(port(), opt);
  ASSERT_TRUE(ws->connected()) << ws->handshake_status() << " " << ws->error();
  ASSERT_TRUE(ws->SendJson({{"op", "auth"}, {"token", ivy.token}}));
  auto ready = ws->ReadFrame(5s);
  ASSERT_TRUE(ready) << ws->error();
  ExpectReadyFields(*ready, ivy.id);
  EXPECT_TRUE(PingPong(*ws));
}

TEST_F(AuthTest, EachConnectionGetsItsOwnSessionId) {
  auto jack = NewUser("jack");
  json::object r1, r2;
  auto a = ConnectReady(port(), jack.token, &r1);
  auto b = ConnectReady(port(), jack.token, &r2);
  ASSERT_TRUE(r1.contains("session_id") && r2.contains("session_id"));
  EXPECT_NE(Dump(r1.at("session_id")), Dump(r2.at("session_id")));
}

TEST_F(AuthTest, WsWithoutAuthIsClosedAfterTimeout) {
  WsOptions opt;
  opt.auth = WsAuth::kNone;
  auto ws = WsClient::Connect(port(), opt);
  ASSERT_TRUE(ws->connected()) << ws->handshake_status() << " " << ws->error();
  // SPEC: auth within 5 s. Allow generous slack; no `ready` may arrive.
  ASSERT_TRUE(ws->WaitClosed(12s)) << "unauthenticated socket still open after 12 s";
  while (auto f = ws->ReadFrame(0ms)) EXPECT_NE(Op(*f), "ready") << Dump(*f);
  EXPECT_EQ(ws->CloseCode(), std::optional<int>(1008)) << "policy violation close expected";
}

TEST_F(AuthTest, WsUpgradeWithBadTokenIs401) {
  for (WsAuth mode : {WsAuth::kHeader, WsAuth::kQuery}) {
    WsOptions opt;
    opt.auth = mode;
    opt.token = "garbage-token-0123456789abcdef";
    auto ws = WsClient::Connect(port(), opt);
    EXPECT_FALSE(ws->connected()) << "mode " << static_cast<int>(mode);
    EXPECT_EQ(ws->handshake_status(), 401) << "mode " << static_cast<int>(mode);
  }
}

// A bad first-frame token yields an `unauthorized` error and/or a close, never `ready`.
void ExpectRejectedFirstFrame(uint16_t port, const std::string& token) {
  WsOptions opt;
  opt.auth = WsAuth::kNone;
  auto ws = WsClient::Connect(port, opt);
  ASSERT_TRUE(ws->connected());
  ASSERT_TRUE(ws->SendJson({{"op", "auth"}, {"token", token}, {"id", "a1"}}));
  auto frame = ws->ReadFrame(5s);
  ASSERT_TRUE(frame) << "no error frame for a bad auth frame: " << ws->error();
  EXPECT_EQ(Op(*frame), "error") << Dump(*frame);
  EXPECT_EQ(Str(*frame, "code"), "unauthorized") << Dump(*frame);
  EXPECT_EQ(Str(*frame, "id"), "a1") << Dump(*frame);
  EXPECT_TRUE(ws->WaitClosed(5s)) << "a failed auth frame should close the socket";
  EXPECT_EQ(ws->CloseCode(), std::optional<int>(1008));
  // Still unauthenticated: a send is not accepted.
  if (ws->SendJson(SendFrame("nobody", "x", "c1"))) {
    auto next = ws->ReadFrame(3s);
    if (next) {
      EXPECT_NE(Op(*next), "ack") << Dump(*next);
    }
  }
}

TEST_F(AuthTest, WsFirstFrameWithGarbageOrRevokedTokenIsRejected) {
  ExpectRejectedFirstFrame(port(), "not-a-real-token");
  auto kate = NewUser("kate");
  ASSERT_EQ(http().Delete("/v1/sessions", kate.token).status, 204);
  ExpectRejectedFirstFrame(port(), kate.token);
}

TEST_F(AuthTest, MissingOrGarbageBearerIs401) {
  for (auto const& headers : std::vector<Headers>{{},
                                                  {{"Authorization", "Bearer garbage"}},
                                                  {{"Authorization", "Bearer "}},
                                                  {{"Authorization", "Basic dXNlcjpwYXNz"}}}) {
    auto res = http().Request("GET", "/v1/conversations", {}, {}, headers);
    EXPECT_EQ(res.status, 401) << res.Describe();
    EXPECT_EQ(res.ErrorCode(), "unauthorized");
  }
  auto send = http().Post("/v1/messages", SendFrame("someone", "hi", "c1"));
  EXPECT_EQ(send.status, 401) << send.Describe();
}

class LoginRateTest : public ServerTest {
 protected:
  void SetUp() override {
    // Replaces the fixture's generous login rate with a tight one.
    server_ = std::make_unique<ServerProcess>(std::vector<std::string>{"--login-rate-per-min", "3"});
    ASSERT_TRUE(server_->Start()) << server_->error() << server_->LogTail();
    http_ = std::make_unique<HttpClient>(server_->port());
  }
};

TEST_F(LoginRateTest, RepeatedLoginAttemptsAreRateLimited) {
  std::string user = UniqueUser("brute");
  ASSERT_EQ(http().Post("/v1/users", json::object{{"user_id", user}, {"password", kPassword}}).status, 201);
  HttpResponse res;
  for (int i = 0; i < 10 && res.status != 429; ++i) {
    res = http().Post("/v1/sessions", json::object{{"user_id", user}, {"password", "wrong password"}});
    if (res.status != 429) {
      EXPECT_EQ(res.status, 401) << res.Describe();
    }
  }
  ASSERT_EQ(res.status, 429) << "10 wrong passwords within seconds were never limited";
  EXPECT_EQ(res.ErrorCode(), "rate_limited");
  EXPECT_FALSE(res.Header("Retry-After").empty());
}

class ShortTokenTtlTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override { return {"--token-ttl", "1"}; }
};

TEST_F(ShortTokenTtlTest, ExpiredTokenIsRejectedOverHttpAndWs) {
  std::string user = UniqueUser("ttl");
  ASSERT_EQ(http().Post("/v1/users", json::object{{"user_id", user}, {"password", kPassword}}).status, 201);
  auto login = http().Post("/v1/sessions", json::object{{"user_id", user}, {"password", kPassword}});
  ASSERT_EQ(login.status, 200) << login.Describe();
  std::string token = Str(login.object(), "token");
  auto expires = IntOpt(login.object(), "expires_at");
  ASSERT_TRUE(expires);
  EXPECT_LE(*expires, NowMs() + 5'000) << "--token-ttl 1 should expire within seconds";
  // Poll until the token stops working (bounded).
  auto deadline = std::chrono::steady_clock::now() + 10s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    status = http().Get("/v1/conversations", token).status;
    if (status == 401) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(status, 401) << "token still accepted 10 s after a 1 s TTL";
  WsOptions opt;
  opt.token = token;
  auto ws = WsClient::Connect(port(), opt);
  EXPECT_FALSE(ws->connected());
  EXPECT_EQ(ws->handshake_status(), 401);
  ExpectRejectedFirstFrame(port(), token);
}

}  // namespace
}  // namespace parley::testing
