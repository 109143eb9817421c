// TLS (--tls-cert/--tls-key): the real server with a self-signed certificate
// made at test time serves https and wss on one port, TLS 1.2+ only, AEAD
// ciphers in its own order; plain HTTP on that port gets a clear answer;
// bad certificate settings stop the start with a message naming the file.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "testing/helpers.h"

namespace parley::testing {
namespace {

namespace fs = std::filesystem;

// Files made once per test run: an EC P-256 certificate for 127.0.0.1 and
// its key, a second key, and a file that is not PEM.
struct TlsFiles {
  std::string dir, cert, key, other_key, garbage;
};

bool Run(const std::string& command) { return std::system((command + " 2>/dev/null").c_str()) == 0; }

const TlsFiles& Files() {
  static const TlsFiles files = [] {
    TlsFiles f;
    char templ[] = "/tmp/parley-tls-XXXXXX";
    f.dir = mkdtemp(templ);
    f.cert = f.dir + "/cert.pem";
    f.key = f.dir + "/key.pem";
    f.other_key = f.dir + "/other-key.pem";
    f.garbage = f.dir + "/garbage.pem";
    bool ok = Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
                  "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " + f.key +
                  " -out " + f.cert) &&
              Run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " +
                  f.other_key);
    EXPECT_TRUE(ok) << "openssl CLI failed";
    std::ofstream(f.garbage) << "this is not a certificate\n";
    return f;
  }();
  return files;
}

TlsOptions Verified(std::string version = {}) {
  return TlsOptions{.ca_file = Files().cert, .version = std::move(version), .ciphers = {}};
}

class TlsTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--tls-cert", Files().cert, "--tls-key", Files().key};
  }
  void SetUp() override {
    ServerTest::SetUp();
    http().set_tls(Verified());
  }

  // An https request with `tls`: the transport error, "" if it got an answer.
  std::string HandshakeError(TlsOptions tls) {
    HttpClient client(port());
    client.set_tls(std::move(tls));
    auto res = client.Get("/healthz");
    return res.status == 200 ? "" : res.error.empty() ? res.Describe() : res.error;
  }

  // Still serving https after whatever the test did.
  void ExpectStillServes() {
    auto res = http().Get("/healthz");
    EXPECT_EQ(res.status, 200) << res.Describe();
  }
};

TEST_F(TlsTest, HttpsAndWssOnOnePort) {
  EXPECT_TRUE(server_->Log().find("scheme=https") != std::string::npos);
  auto alice = NewUser("alice");  // register + login over https
  auto bob = NewUser("bob");
  auto health = http().Get("/healthz");
  ASSERT_EQ(health.status, 200) << health.Describe();
  EXPECT_EQ(health.tls.rfind("TLSv1.3", 0), 0u) << health.tls;

  WsOptions opt = WsWith(WsAuth::kHeader, bob.token);
  opt.tls = Verified();
  auto bob_ws = WsClient::Connect(port(), opt);
  ASSERT_TRUE(bob_ws->connected()) << bob_ws->error();
  ASSERT_TRUE(bob_ws->ReadOp("ready"));
  opt.token = alice.token;
  auto alice_ws = WsClient::Connect(port(), opt);
  ASSERT_TRUE(alice_ws->connected()) << alice_ws->error();
  ASSERT_TRUE(alice_ws->ReadOp("ready"));
  auto ack = SendAndAck(*alice_ws, bob.id, "over wss", UniqueCmid());
  ASSERT_TRUE(ack && Op(*ack) == "ack") << (ack ? Dump(*ack) : "no ack");
  auto msg = bob_ws->ReadOp("message");
  ASSERT_TRUE(msg);
  EXPECT_EQ(Str(*msg, "content"), "over wss");
  // A big frame crosses several TLS records and still arrives whole.
  ack = SendAndAck(*alice_ws, bob.id, std::string(16 * 1024, 'x'), UniqueCmid());
  ASSERT_TRUE(ack && Op(*ack) == "ack");
  EXPECT_TRUE(PingPong(*bob_ws));
  alice_ws->Close();
  EXPECT_EQ(alice_ws->CloseCode(), 1000) << "the server answers a client's close over TLS";
}

TEST_F(TlsTest, Tls12And13AreAcceptedOlderVersionsAreRefusedByTheServer) {
  EXPECT_EQ(HandshakeError(Verified("1.2")), "");
  EXPECT_EQ(HandshakeError(Verified("1.3")), "");
  for (std::string old : {"1", "1.1"}) {
    std::string error = HandshakeError(Verified(old));
    // The server's alert, not a client that could not offer the version.
    EXPECT_NE(error.find("tls: "), std::string::npos) << old << ": " << error;
    EXPECT_NE(error.find("protocol version"), std::string::npos) << old << ": " << error;
  }
  ExpectStillServes();
  auto failures = ScrapeMetric(http(), "parley_tls_handshake_failures_total");
  ASSERT_TRUE(failures);
  EXPECT_GE(*failures, 2);
}

TEST_F(TlsTest, OnlyAeadCiphersInTheServersOrder) {
  // TLS 1.2 with only CBC suites on offer: no shared cipher.
  std::string error = HandshakeError(
      {.ca_file = Files().cert, .version = "1.2", .ciphers = "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA"});
  EXPECT_NE(error.find("tls: "), std::string::npos) << error;
  EXPECT_NE(error.find("handshake failure"), std::string::npos) << error;

  // The client prefers ChaCha20; the server's order (AES-GCM first) wins.
  HttpClient client(port());
  client.set_tls(TlsOptions{.ca_file = Files().cert,
                            .version = "1.2",
                            .ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256"});
  auto res = client.Get("/healthz");
  ASSERT_EQ(res.status, 200) << res.Describe();
  EXPECT_EQ(res.tls, "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256");
  ExpectStillServes();
}

TEST_F(TlsTest, PlainHttpOnTheTlsPortGetsAClearAnswerAndIsClosed) {
  HttpClient plain(port());
  auto res = plain.Get("/healthz");
  EXPECT_EQ(res.status, 400) << res.Describe();
  EXPECT_EQ(res.ErrorCode(), "bad_request");
  EXPECT_NE(res.body.find("TLS"), std::string::npos) << res.body;
  EXPECT_EQ(res.Header("Connection"), "close");

  WsOptions opt = WsWith(WsAuth::kNone);
  auto ws = WsClient::Connect(port(), opt);  // ws:// to a wss port
  EXPECT_FALSE(ws->connected());
  EXPECT_EQ(ws->handshake_status(), 400) << ws->error();

  // Bytes that only start like TLS: a plain 400 too, or closed; nothing breaks.
  plain.set_timeout(2s);
  for (std::string junk : {std::string("\x16\x03\x01\x00\x05\x01\x00", 7),
                           std::string("\x16\x03\x03\xff\xff garbage garbage garbage")}) {
    auto answer = plain.SendRaw(junk);
    EXPECT_TRUE(answer.status == 0 || answer.status == 400) << answer.Describe();
  }
  ExpectStillServes();
}

// Runs the server with `args`, which must stop its start (`timeout` ends it
// otherwise): its exit status and everything it printed.
std::pair<int, std::string> RunFailingServer(const std::vector<std::string>& args) {
  std::string cmd = "timeout 30 " + ServerProcess::BinaryPath() +
                    " --listen 127.0.0.1:0 --argon2-memlimit-kib 8 --data-dir " + Files().dir +
                    "/data";
  for (const auto& a : args) cmd += " '" + a + "'";
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(TlsConfigTest, BadCertificateSettingsStopTheStart) {
  const TlsFiles& f = Files();
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  std::vector<Case> cases = {
      {{"--tls-cert", f.dir + "/missing.pem", "--tls-key", f.key}, "missing.pem: cannot read"},
      {{"--tls-cert", f.cert, "--tls-key", f.dir + "/missing-key.pem"}, "missing-key.pem: cannot read"},
      {{"--tls-cert", f.garbage, "--tls-key", f.key}, "garbage.pem: not a PEM certificate"},
      {{"--tls-cert", f.cert, "--tls-key", f.garbage}, "garbage.pem: not a PEM private key"},
      {{"--tls-cert", f.cert, "--tls-key", f.other_key}, "other-key.pem: not a PEM private key of the certificate"},
      {{"--tls-cert", f.dir}, "--tls-cert and --tls-key go together"},
      {{"--allowed-origins", "example.com"}, "'example.com' is not an origin"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.expected);
    auto [code, out] = RunFailingServer(c.args);
    EXPECT_NE(out.find(c.expected), std::string::npos) << out;
    EXPECT_TRUE(code == 1 || code == 2) << "exit " << code << ": " << out;
    EXPECT_EQ(out.find("event=listening"), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace parley::testing
