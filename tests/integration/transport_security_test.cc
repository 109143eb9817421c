// The connection layer under abuse, against the real server: slowloris
// (trickled headers and bodies), admission control (connection cap,
// handshakes in progress, per-address budget, sessions per user, a reconnect
// storm), the browser Origin allow-list, malformed HTTP (header floods,
// request smuggling shapes) and hostile WebSocket frames (compressed-frame
// bombs, lying lengths, oversize fragmented messages). Each test ends by
// checking that the server still serves.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "testing/helpers.h"

namespace parley::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A raw TCP connection for what HttpClient and WsClient will not send:
// trickled bytes, smuggling shapes, hand-made WebSocket frames.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { Close(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Reads until the server closes (true) or `timeout` passes (false).
  bool ReadUntilClosed(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!closed_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      ReadSome(left);
    }
    return true;
  }
  // Reads until `needle` has arrived, the server closed, or `timeout`.
  bool ReadUntil(std::string_view needle, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (received_.find(needle) == std::string::npos && !closed_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      ReadSome(left);
    }
    return received_.find(needle) != std::string::npos;
  }
  const std::string& received() const { return received_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  void ReadSome(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return;
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;  // end of stream or reset
      return;
    }
    received_.append(buf, static_cast<size_t>(n));
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string received_;
};

// The status codes of the HTTP responses in `bytes`, in order.
std::vector<int> ResponseStatuses(const std::string& bytes) {
  std::vector<int> out;
  for (size_t at = bytes.find("HTTP/1.1 "); at != std::string::npos;
       at = bytes.find("HTTP/1.1 ", at + 1)) {
    if (at == 0 || bytes.compare(at - 2, 2, "\r\n") == 0 || bytes.compare(at - 1, 1, "}") == 0) {
      out.push_back(std::atoi(bytes.c_str() + at + 9));
    }
  }
  return out;
}

std::string UpgradeRequest(std::string_view extra_headers) {
  return "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
         std::string(extra_headers) + "\r\n";
}

// A masked client frame. `first`: the FIN/RSV/opcode byte; `declared`
// overrides the length field (a header that lies about what follows).
std::string ClientFrame(uint8_t first, std::string_view payload,
                        std::optional<uint64_t> declared = std::nullopt) {
  std::string f(1, static_cast<char>(first));
  uint64_t len = declared.value_or(payload.size());
  if (len < 126) {
    f += static_cast<char>(0x80 | len);
  } else if (len <= 0xffff) {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(len >> 8);
    f += static_cast<char>(len & 0xff);
  } else {
    f += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((len >> (8 * i)) & 0xff);
  }
  const char mask[4] = {0x12, 0x34, 0x56, 0x78};
  f.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  return f;
}

// The code of the server's close frame in what followed the 101 response;
// -1 if none arrived.
int ServerCloseCode(const std::string& received) {
  size_t pos = received.find("\r\n\r\n");
  if (pos == std::string::npos) return -1;
  pos += 4;
  auto byte = [&](size_t i) { return static_cast<uint8_t>(received[i]); };
  while (pos + 2 <= received.size()) {
    uint8_t opcode = byte(pos) & 0x0f;
    uint64_t len = byte(pos + 1) & 0x7f;
    size_t header = 2;
    if (len == 126 && pos + 4 <= received.size()) {
      len = (byte(pos + 2) << 8) | byte(pos + 3);
      header = 4;
    } else if (len == 127) {
      return -1;  // the server sends no such frames here
    }
    if (pos + header + len > received.size()) return -1;
    if (opcode == 8) {
      return len >= 2 ? (byte(pos + header) << 8) | byte(pos + header + 1) : 1005;
    }
    pos += header + len;
  }
  return -1;
}

// Raw DEFLATE (as permessage-deflate would carry it) of `n` zero bytes.
std::string DeflatedZeros(size_t n) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
  std::string zeros(n, '\0');
  std::string out(deflateBound(&z, n) + 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(zeros.data());
  z.avail_in = static_cast<uInt>(n);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_SYNC_FLUSH);
  out.resize(z.total_out - 4);  // permessage-deflate drops the 00 00 ff ff tail
  deflateEnd(&z);
  return out;
}

class TransportTest : public ServerTest {
 protected:
  void ExpectStillServes() {
    auto health = http().Get("/healthz");
    EXPECT_EQ(health.status, 200) << health.Describe();
    auto a = NewUser("sa");
    auto b = NewUser("sb");
    auto aw = ConnectReady(port(), a.token);
    auto bw = ConnectReady(port(), b.token);
    auto ack = SendAndAck(*aw, b.id, "still serving", UniqueCmid());
    ASSERT_TRUE(ack && Op(*ack) == "ack") << (ack ? Dump(*ack) : "no ack");
    EXPECT_TRUE(bw->ReadOp("message", 10s));
  }

  double Metric(std::string_view name) { return ScrapeMetric(http(), name).value_or(-1); }
  // The server counts a close right after it happened: the client may see
  // the close first. Waits (up to 5 s) for the count to reach `at_least`.
  double MetricReaching(std::string_view name, double at_least) {
    double value = Metric(name);
    for (int i = 0; i < 50 && value < at_least; ++i) {
      std::this_thread::sleep_for(100ms);
      value = Metric(name);
    }
    return value;
  }
};

// ---------------------------------------------------------------- slowloris

class SlowlorisTest : public TransportTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--http-header-timeout", "2", "--http-body-timeout", "2"};
  }

  // Sends `start`, then one `drip` every 250 ms for up to 10 s: true if the
  // server closed the connection meanwhile (it must, after about 2 s).
  bool ClosedWhileTrickling(std::string_view start, const std::function<std::string(int)>& drip) {
    RawConnection c(port());
    if (!c.connected() || !c.Send(start)) return false;
    for (int i = 0; i < 40; ++i) {
      c.Send(drip(i));  // fails once the server is gone
      if (c.ReadUntilClosed(250ms)) return true;
    }
    return false;
  }
};

TEST_F(SlowlorisTest, TrickledHeadersAreCut) {
  auto header = [](int i) { return "X-Drip-" + std::to_string(i) + ": a\r\n"; };
  EXPECT_TRUE(ClosedWhileTrickling("GET /healthz HTTP/1.1\r\nHost: x\r\n", header));
  // The WebSocket upgrade request is an HTTP request like the others.
  std::string upgrade = UpgradeRequest("");
  upgrade.resize(upgrade.size() - 2);  // headers not finished
  EXPECT_TRUE(ClosedWhileTrickling(upgrade, header));
  // One byte at a time within the request line.
  EXPECT_TRUE(ClosedWhileTrickling("G", [](int) { return std::string("E"); }));
  EXPECT_GE(MetricReaching("parley_http_timeouts_total", 3), 3);
  ExpectStillServes();
}

TEST_F(SlowlorisTest, ASilentConnectionIsClosed) {
  RawConnection c(port());
  ASSERT_TRUE(c.connected());
  EXPECT_TRUE(c.ReadUntilClosed(10s)) << "a connection that never sends a byte stays open";
  EXPECT_TRUE(c.received().empty()) << c.received();
}

TEST_F(SlowlorisTest, TrickledBodiesAreCut) {
  auto byte = [](int) { return std::string("x"); };
  EXPECT_TRUE(ClosedWhileTrickling(
      "POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 1000\r\n\r\n{",
      byte));
  EXPECT_TRUE(ClosedWhileTrickling(
      "POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n3e8\r\n{",
      byte));
  // A streamed upload: each 64 KiB must come within the body timeout.
  auto user = NewUser("up");
  EXPECT_TRUE(ClosedWhileTrickling("POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                       user.token +
                                       "\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n",
                                   byte));
  ExpectStillServes();
}

TEST_F(SlowlorisTest, ManySlowConnectionsDoNotStopOthers) {
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 50; ++i) {
    slow.push_back(std::make_unique<RawConnection>(port()));
    slow.back()->Send("GET /healthz HTTP/1.1\r\n");
  }
  ExpectStillServes();
  for (auto& c : slow) EXPECT_TRUE(c->ReadUntilClosed(10s));
}

// ---------------------------------------------------------------- admission

class MaxConnectionsTest : public TransportTest {
 protected:
  std::vector<std::string> ExtraArgs() override { return {"--max-connections", "3"}; }
};

TEST_F(MaxConnectionsTest, ConnectionsBeyondTheCapAreClosedUnanswered) {
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::make_unique<RawConnection>(port()));
  HttpClient probe(port(), 5s);
  auto refused = probe.Get("/healthz");
  EXPECT_EQ(refused.status, 0) << refused.Describe();
  held.clear();  // the server sees them go and gives their places back
  HttpResponse ok;
  for (int i = 0; i < 50 && ok.status != 200; ++i) {
    std::this_thread::sleep_for(100ms);
    ok = http().Get("/healthz");
  }
  EXPECT_EQ(ok.status, 200) << ok.Describe();
  EXPECT_GE(MetricReaching("parley_connections_refused_total", 1), 1);
}

class HandshakeCapTest : public TransportTest {
 protected:
  std::vector<std::string> ExtraArgs() override { return {"--max-handshakes", "2"}; }
};

TEST_F(HandshakeCapTest, OpeningConnectionsBeyondTheCapGet503WithRetryAfter) {
  auto user = NewUser("cap");
  {
    // Two connections that never send a request hold both opening places.
    RawConnection a(port()), b(port());
    ASSERT_TRUE(a.connected() && b.connected());
    std::this_thread::sleep_for(200ms);  // let the server accept them
    auto res = http().Get("/healthz");
    EXPECT_EQ(res.status, 503) << res.Describe();
    EXPECT_EQ(res.ErrorCode(), "unavailable");
    EXPECT_EQ(res.Header("Retry-After"), "1");
    WsOptions opt = WsWith(WsAuth::kHeader, user.token);
    auto ws = WsClient::Connect(port(), opt);
    EXPECT_FALSE(ws->connected());
    EXPECT_EQ(ws->handshake_status(), 503) << ws->error();
  }
  HttpResponse ok;
  for (int i = 0; i < 50 && ok.status != 200; ++i) {
    std::this_thread::sleep_for(100ms);
    ok = http().Get("/healthz");
  }
  EXPECT_EQ(ok.status, 200) << ok.Describe();
}

// A reconnect storm: 30 clients at once against 2 opening places that are
// taken. Every attempt is answered (503 + Retry-After, never a hang); with
// backoff and jitter all clients are back once the places free up.
TEST_F(HandshakeCapTest, AReconnectStormDegradesInto503sAndRecovers) {
  auto user = NewUser("storm");
  auto blockers = std::make_unique<std::pair<RawConnection, RawConnection>>(port(), port());
  std::this_thread::sleep_for(200ms);
  constexpr int kClients = 30;
  std::atomic<int> refusals{0}, other_failures{0}, connected{0};
  std::vector<std::unique_ptr<WsClient>> sessions(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937 rng(i);
      for (int attempt = 0; attempt < 60; ++attempt) {
        WsOptions opt = WsWith(WsAuth::kHeader, user.token);
        auto ws = WsClient::Connect(port(), opt);
        if (ws->connected() && ws->ReadOp("ready", 10s)) {
          sessions[i] = std::move(ws);
          ++connected;
          return;
        }
        (ws->handshake_status() == 503 ? refusals : other_failures)++;
        int backoff_ms = std::min(1000, 50 << std::min(attempt, 4));
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % backoff_ms + 20));
      }
    });
  }
  std::this_thread::sleep_for(1s);  // the storm meets a full server
  EXPECT_EQ(connected.load(), 0);
  blockers.reset();                 // capacity comes back
  for (auto& t : threads) t.join();
  EXPECT_EQ(connected.load(), kClients);
  EXPECT_GE(refusals.load(), kClients) << "every client was refused at least once";
  EXPECT_EQ(other_failures.load(), 0) << "refusals are 503s, not resets or timeouts";
  for (auto& s : sessions) {
    if (s) {
      EXPECT_TRUE(PingPong(*s));
    }
  }
}

class AddressBudgetTest : public TransportTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    // One new token every 5 s: none comes back between two steps of the test.
    return {"--handshake-rate-per-address", "0.2", "--handshake-burst-per-address", "5"};
  }
};

TEST_F(AddressBudgetTest, NewConnectionsBeyondTheAddressBudgetGet429) {
  HttpResponse refused;
  int answered = 0;
  for (int i = 0; i < 30 && refused.status == 0; ++i) {
    auto res = http().Get("/healthz");
    if (res.status == 429) refused = res;
    else if (res.status == 200) ++answered;
    else ADD_FAILURE() << res.Describe();
  }
  ASSERT_EQ(refused.status, 429) << "30 connections in a row were all admitted";
  EXPECT_GE(answered, 5) << "the burst is admitted";
  EXPECT_EQ(refused.ErrorCode(), "rate_limited");
  int retry_after = std::atoi(refused.Header("Retry-After").c_str());
  EXPECT_GE(retry_after, 1);
  EXPECT_EQ(refused.Header("Connection"), "close");
  WsOptions opt = WsWith(WsAuth::kNone);
  auto ws = WsClient::Connect(port(), opt);
  EXPECT_EQ(ws->handshake_status(), 429) << "upgrades spend the same budget";
  std::this_thread::sleep_for(std::chrono::seconds(retry_after) + 200ms);
  auto again = http().Get("/healthz");
  EXPECT_EQ(again.status, 200) << "after Retry-After the address may connect again: "
                               << again.Describe();
}

class SessionCapTest : public TransportTest {
 protected:
  std::vector<std::string> ExtraArgs() override { return {"--max-sessions-per-user", "2"}; }
};

TEST_F(SessionCapTest, SessionsBeyondThePerUserCapGetAnErrorAndClose1008) {
  auto alice = NewUser("alice");
  auto bob = NewUser("bob");
  auto first = ConnectReady(port(), alice.token);
  auto second = ConnectReady(port(), alice.token);
  for (WsAuth auth : {WsAuth::kHeader, WsAuth::kQuery, WsAuth::kNone}) {
    WsOptions opt = WsWith(auth, alice.token);
    auto third = WsClient::Connect(port(), opt);
    ASSERT_TRUE(third->connected()) << third->error();
    if (auth == WsAuth::kNone) {
      ASSERT_TRUE(third->SendJson({{"op", "auth"}, {"token", alice.token}}));
    }
    auto error = third->ReadFrame(5s);
    ASSERT_TRUE(error) << third->error();
    EXPECT_EQ(Op(*error), "error") << Dump(*error);
    EXPECT_EQ(Str(*error, "code"), "conflict") << Dump(*error);
    EXPECT_NE(Str(*error, "message").find("too many sessions"), std::string::npos);
    EXPECT_TRUE(third->WaitClosed(5s));
    EXPECT_EQ(third->CloseCode(), 1008);
  }
  EXPECT_TRUE(PingPong(*first) && PingPong(*second)) << "the open sessions are untouched";
  auto other = ConnectReady(port(), bob.token);
  EXPECT_TRUE(other->IsOpen()) << "the cap is per user";
  first->Close();
  std::unique_ptr<WsClient> replacement;
  for (int i = 0; i < 50; ++i) {
    WsOptions opt = WsWith(WsAuth::kHeader, alice.token);
    replacement = WsClient::Connect(port(), opt);
    auto f = replacement->ReadFrame(5s);
    if (f && Op(*f) == "ready") break;
    replacement.reset();
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(replacement) << "a closed session gives its place back";
  EXPECT_GE(MetricReaching("parley_connections_refused_total", 3), 3);
}

// ---------------------------------------------------------------- origins

TEST_F(TransportTest, WithoutAnAllowListOnlySameOriginPagesPass) {
  auto user = NewUser("orig");
  std::string same = "http://127.0.0.1:" + std::to_string(port());
  auto with_origin = [&](std::string origin) {
    WsOptions opt = WsWith(WsAuth::kHeader, user.token);
    opt.headers = {{"Origin", origin}};
    return WsClient::Connect(port(), opt);
  };
  auto evil_ws = with_origin("https://evil.example");
  EXPECT_FALSE(evil_ws->connected());
  EXPECT_EQ(evil_ws->handshake_status(), 403) << evil_ws->error();
  auto same_ws = with_origin(same);
  EXPECT_TRUE(same_ws->connected()) << same_ws->error();
  EXPECT_TRUE(same_ws->ReadOp("ready"));

  auto evil = http().Request("GET", "/v1/conversations", {}, user.token, {{"Origin", "https://evil.example"}});
  EXPECT_EQ(evil.status, 403) << evil.Describe();
  EXPECT_EQ(evil.ErrorCode(), "forbidden");
  EXPECT_TRUE(evil.Header("Access-Control-Allow-Origin").empty());
  auto preflight = http().Request("OPTIONS", "/v1/messages", {}, {},
                                  {{"Origin", "https://evil.example"},
                                   {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(preflight.status, 403) << preflight.Describe();
  auto no_origin = http().Get("/v1/conversations", user.token);
  EXPECT_EQ(no_origin.status, 200) << "clients that are not browsers send no Origin";
  auto same_page = http().Request("GET", "/v1/conversations", {}, user.token, {{"Origin", same}});
  EXPECT_EQ(same_page.status, 200) << same_page.Describe();
  EXPECT_TRUE(same_page.Header("Access-Control-Allow-Origin").empty()) << "same origin needs no CORS";
  EXPECT_GE(MetricReaching("parley_connections_refused_total", 3), 3);
}

class AllowedOriginsTest : public TransportTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--allowed-origins", "https://app.example,http://localhost:3000"};
  }
};

TEST_F(AllowedOriginsTest, ListedOriginsGetCorsOthersGet403) {
  auto user = NewUser("cors");
  auto res = http().Request("GET", "/v1/conversations", {}, user.token, {{"Origin", "https://app.example"}});
  EXPECT_EQ(res.status, 200) << res.Describe();
  EXPECT_EQ(res.Header("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(res.Header("Vary"), "Origin");
  EXPECT_NE(res.Header("Access-Control-Expose-Headers").find("Retry-After"), std::string::npos);

  auto preflight = http().Request("OPTIONS", "/v1/messages", {}, {},
                                  {{"Origin", "http://localhost:3000"},
                                   {"Access-Control-Request-Method", "POST"},
                                   {"Access-Control-Request-Headers", "authorization, content-type"}});
  EXPECT_EQ(preflight.status, 204) << preflight.Describe();
  EXPECT_EQ(preflight.Header("Access-Control-Allow-Origin"), "http://localhost:3000");
  EXPECT_NE(preflight.Header("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_NE(preflight.Header("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);

  WsOptions opt = WsWith(WsAuth::kHeader, user.token);
  opt.headers = {{"Origin", "https://app.example"}};
  auto ws = WsClient::Connect(port(), opt);
  EXPECT_TRUE(ws->connected()) << ws->error();
  EXPECT_TRUE(ws->ReadOp("ready"));
  opt.headers = {{"Origin", "https://app.example.evil.example"}};
  auto evil = WsClient::Connect(port(), opt);
  EXPECT_EQ(evil->handshake_status(), 403) << evil->error();
  auto evil_http = http().Request("POST", "/v1/messages", "{}", user.token, {{"Origin", "http://localhost:3001"}});
  EXPECT_EQ(evil_http.status, 403) << evil_http.Describe();
}

// ---------------------------------------------------------------- malformed HTTP

// Sends `raw` and expects one answer, `status`, after which the server
// closes: nothing after the bad request is read as another request.
void ExpectOneAnswerThenClose(uint16_t port, const std::string& raw, int status) {
  RawConnection c(port);
  ASSERT_TRUE(c.connected());
  c.Send(raw);
  EXPECT_TRUE(c.ReadUntilClosed(10s)) << "still open after: " << raw.substr(0, 300);
  EXPECT_EQ(ResponseStatuses(c.received()), std::vector<int>{status}) << c.received();
  EXPECT_NE(c.received().find("Connection: close"), std::string::npos) << c.received();
}

TEST_F(TransportTest, HeaderFloodsAre413) {
  std::string many = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 5000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  ExpectOneAnswerThenClose(port(), many + "\r\n", 413);
  ExpectOneAnswerThenClose(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: " +
                                       std::string(64 * 1024, 'c') + "\r\n\r\n",
                           413);
  ExpectOneAnswerThenClose(port(), "GET /" + std::string(64 * 1024, 'p') + " HTTP/1.1\r\nHost: x\r\n\r\n",
                           413);
  ExpectStillServes();
}

TEST_F(TransportTest, RequestSmugglingShapesAre400AndClose) {
  // Each is followed by a request that must never be answered.
  const std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string post = "POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  const std::vector<std::string> shapes = {
      post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
      post + "Content-Length: 5\r\nContent-Length: 40\r\n\r\n{}   ",
      post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\n{}   ",
      post + "Content-Length: 5, 40\r\n\r\n{}   ",
      post + "Content-Length: +5\r\n\r\n{}   ",
      post + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
      post + "Transfer-Encoding: identity\r\n\r\n{}",
      post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
      post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
      post + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
  };
  for (const auto& shape : shapes) {
    SCOPED_TRACE(shape);
    ExpectOneAnswerThenClose(port(), shape + smuggled, 400);
  }
  // Obsolete line folding joins the line to the previous header (RFC 7230
  // 3.2.4): no chunked body, so the "0" line is a bad next request and the
  // smuggled one is never answered.
  RawConnection folded(port());
  folded.Send(post + " Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled);
  EXPECT_TRUE(folded.ReadUntilClosed(10s));
  for (int status : ResponseStatuses(folded.received())) EXPECT_EQ(status, 400) << folded.received();
  ExpectStillServes();
}

// ---------------------------------------------------------------- hostile frames

// A raw WebSocket session of a fresh user, past its `ready` frame.
std::unique_ptr<RawConnection> RawSession(uint16_t port, const std::string& token,
                                          std::string_view extra_headers = {}) {
  auto c = std::make_unique<RawConnection>(port);
  c->Send(UpgradeRequest("Authorization: Bearer " + token + "\r\n" + std::string(extra_headers)));
  EXPECT_TRUE(c->ReadUntil("\"op\":\"ready\"", 5s)) << c->received();
  return c;
}

TEST_F(TransportTest, CompressedFrameBombIsAProtocolErrorNotInflated) {
  auto user = NewUser("bomb");
  auto c = RawSession(port(), user.token,
                      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
  std::string lower;
  for (char ch : c->received()) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_EQ(lower.find("permessage-deflate"), std::string::npos) << "compression was negotiated";
  // 64 MiB of zeros in about 64 KiB, sent as a compressed text frame anyway.
  std::string bomb = DeflatedZeros(64 << 20);
  ASSERT_LT(bomb.size(), 64u * 1024) << bomb.size();
  c->Send(ClientFrame(0xC1, bomb));  // FIN + RSV1 (compressed) + text
  EXPECT_TRUE(c->ReadUntilClosed(10s));
  EXPECT_EQ(ServerCloseCode(c->received()), 1002) << "protocol error, not an inflated message";
  ExpectStillServes();
}

TEST_F(TransportTest, OversizeFramesAndFragmentedMessagesClose1009) {
  auto user = NewUser("big");
  // A header announcing a terabyte: refused on the header, before any payload.
  auto liar = RawSession(port(), user.token);
  liar->Send(ClientFrame(0x81, "", uint64_t{1} << 40));
  EXPECT_TRUE(liar->ReadUntilClosed(10s));
  EXPECT_EQ(ServerCloseCode(liar->received()), 1009);
  // Fragments each under the frame limit that add up to more than it.
  auto fragments = RawSession(port(), user.token);
  std::string part(40 * 1024, 'f');
  fragments->Send(ClientFrame(0x01, part));  // text, not final
  fragments->Send(ClientFrame(0x00, part));  // continuation: 80 KiB in all
  EXPECT_TRUE(fragments->ReadUntilClosed(10s));
  EXPECT_EQ(ServerCloseCode(fragments->received()), 1009);
  EXPECT_GE(MetricReaching("parley_oversize_frames_total", 1), 1);
  ExpectStillServes();
}

}  // namespace
}  // namespace parley::testing
