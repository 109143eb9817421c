// Unit tests of the push building blocks: JWT signing (verified with OpenSSL
// against the public key), HMAC, backoff bounds, the webhook address policy,
// and the text of a notification. Providers and the dispatcher are tested
// end to end against fake provider servers in tests/integration/push_test.cc.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json/parse.hpp>
#include <memory>

#include "push/address_policy.h"
#include "push/jwt.h"
#include "push/providers.h"

namespace parley::push {
namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

KeyPtr Generate(bool ec) {
  EVP_PKEY* key = ec ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                     : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  return KeyPtr(key, EVP_PKEY_free);
}

std::string Pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);  // PKCS#8
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size);
}

std::string Base64UrlDecode(std::string s) {
  for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  size_t padding = (4 - s.size() % 4) % 4;
  s.append(padding, '=');
  std::string out(s.size(), '\0');
  int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(n < 0 ? 0 : n - padding);
  return out;
}

// ES256 signatures are raw r||s; OpenSSL verifies DER.
std::string RawToDer(const std::string& raw) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG_set0(sig, BN_bin2bn(bytes, 32, nullptr), BN_bin2bn(bytes + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int length = i2d_ECDSA_SIG(sig, &der);
  std::string out(reinterpret_cast<char*>(der), length);
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

bool Verify(EVP_PKEY* key, const std::string& data, const std::string& signature) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key);
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1;
}

struct Jwt {
  boost::json::object header, claims;
  std::string signing_input, signature;
};

Jwt Split(const std::string& jwt) {
  size_t first = jwt.find('.'), second = jwt.rfind('.');
  Jwt out;
  out.header = boost::json::parse(Base64UrlDecode(jwt.substr(0, first))).as_object();
  out.claims =
      boost::json::parse(Base64UrlDecode(jwt.substr(first + 1, second - first - 1))).as_object();
  out.signing_input = jwt.substr(0, second);
  out.signature = Base64UrlDecode(jwt.substr(second + 1));
  return out;
}

TEST(JwtTest, Es256SignatureVerifiesWithThePublicKey) {
  KeyPtr key = Generate(true);
  auto signer = PrivateKey::FromPem(Pem(key.get()));
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
  EXPECT_TRUE(signer->is_ec());
  auto jwt = SignJwt(*signer, {{"kid", "KEY123"}}, {{"iss", "TEAM42"}, {"iat", 1700000000}});
  ASSERT_TRUE(jwt.ok());
  Jwt parts = Split(*jwt);
  EXPECT_EQ(parts.header.at("alg"), "ES256");
  EXPECT_EQ(parts.header.at("kid"), "KEY123");
  EXPECT_EQ(parts.claims.at("iss"), "TEAM42");
  ASSERT_EQ(parts.signature.size(), 64u);  // raw r||s, not DER
  EXPECT_TRUE(Verify(key.get(), parts.signing_input, RawToDer(parts.signature)));
  EXPECT_FALSE(Verify(key.get(), parts.signing_input + "x", RawToDer(parts.signature)));
}

TEST(JwtTest, Rs256SignatureVerifiesWithThePublicKey) {
  KeyPtr key = Generate(false);
  auto signer = PrivateKey::FromPem(Pem(key.get()));
  ASSERT_TRUE(signer.ok());
  EXPECT_TRUE(signer->is_rsa());
  auto jwt = SignJwt(*signer, {{"typ", "JWT"}}, {{"iss", "svc@example.iam"}});
  ASSERT_TRUE(jwt.ok());
  Jwt parts = Split(*jwt);
  EXPECT_EQ(parts.header.at("alg"), "RS256");
  EXPECT_TRUE(Verify(key.get(), parts.signing_input, parts.signature));
}

TEST(JwtTest, RejectsWhatIsNotAKey) {
  EXPECT_FALSE(PrivateKey::FromPem("not a key").ok());
  EXPECT_FALSE(PrivateKey::FromFile("/nonexistent/key.p8").ok());
  KeyPtr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"), EVP_PKEY_free);
  EXPECT_FALSE(PrivateKey::FromPem(Pem(p384.get())).ok());  // ES256 needs P-256
}

TEST(HmacTest, KnownVector) {
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(BackoffTest, FullJitterStaysUnderTheGrowingCap) {
  std::mt19937_64 rng(7);
  for (uint32_t attempt = 0; attempt < 12; ++attempt) {
    int64_t cap = std::min<int64_t>(100LL << attempt, 5000);
    int64_t largest = 0;
    for (int i = 0; i < 200; ++i) {
      int64_t d = BackoffDelayMs(attempt, 100, 5000, rng);
      ASSERT_GE(d, 0);
      ASSERT_LE(d, cap);
      largest = std::max(largest, d);
    }
    EXPECT_GT(largest, cap / 2) << "jitter should spread over the whole window";
  }
}

sockaddr_storage Address(const char* text) {
  sockaddr_storage out{};
  if (inet_pton(AF_INET, text, &reinterpret_cast<sockaddr_in*>(&out)->sin_addr) == 1) {
    out.ss_family = AF_INET;
  } else {
    EXPECT_EQ(inet_pton(AF_INET6, text, &reinterpret_cast<sockaddr_in6*>(&out)->sin6_addr), 1);
    out.ss_family = AF_INET6;
  }
  return out;
}

TEST(AddressPolicyTest, PrivateAndPublicAddresses) {
  for (const char* a :
       {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1",
        "fd12::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "ff02::1"}) {
    sockaddr_storage s = Address(a);
    EXPECT_TRUE(IsPrivateAddress(reinterpret_cast<sockaddr*>(&s))) << a;
  }
  for (const char* a : {"8.8.8.8", "93.184.216.34", "172.32.0.1", "192.169.0.1", "2001:4860::8888",
                        "::ffff:8.8.8.8"}) {
    sockaddr_storage s = Address(a);
    EXPECT_FALSE(IsPrivateAddress(reinterpret_cast<sockaddr*>(&s))) << a;
  }
}

TEST(AddressPolicyTest, WebhookUrls) {
  EXPECT_TRUE(CheckWebhookUrl("https://93.184.216.34/push", false, 2048).ok());
  EXPECT_TRUE(CheckWebhookUrl("http://[2001:4860::8888]:8080/p", false, 2048).ok());
  for (const char* bad : {"ftp://93.184.216.34/", "file:///etc/passwd", "not a url", "https://",
                          "http://127.0.0.1/hook", "http://localhost:9/x", "http://[::1]/x",
                          "http://10.0.0.5/x", "https://user:pw@93.184.216.34/"}) {
    Status s = CheckWebhookUrl(bad, false, 2048);
    EXPECT_EQ(s.code(), Code::kBadRequest) << bad;
  }
  EXPECT_TRUE(CheckWebhookUrl("http://127.0.0.1:9/hook", true, 2048).ok());
  EXPECT_EQ(CheckWebhookUrl("ftp://127.0.0.1/", true, 2048).code(), Code::kBadRequest);
  EXPECT_EQ(CheckWebhookUrl("https://93.184.216.34/" + std::string(3000, 'a'), false, 2048).code(),
            Code::kBadRequest);
}

TEST(NotificationTest, AlertTextFollowsWhatThePreviewReveals) {
  AlertText hidden = MakeAlertText({"bob", "d:alice:bob", "", "", 1});
  EXPECT_EQ(hidden.title, "Parley");
  EXPECT_EQ(hidden.body, "New message");
  AlertText sender = MakeAlertText({"bob", "g:1", "alice", "", 3});
  EXPECT_EQ(sender.title, "alice");
  EXPECT_EQ(sender.body, "3 new messages");
  AlertText full = MakeAlertText({"bob", "g:1", "alice", "lunch?", 2});
  EXPECT_EQ(full.body, "lunch? (+1 more)");
}

TEST(NotificationTest, CollapseIdsFitApnsLimit) {
  EXPECT_EQ(CollapseId("d:alice:bob"), "d:alice:bob");
  std::string long_id = "d:" + std::string(32, 'a') + ":" + std::string(32, 'b');
  EXPECT_EQ(CollapseId(long_id).size(), 64u);
  EXPECT_NE(CollapseId(long_id), CollapseId(long_id + "x"));
}

TEST(NotificationTest, CommonOutcomes) {
  EXPECT_EQ(CommonOutcome({0, "", "timeout", 0})->outcome, Outcome::kRetry);
  EXPECT_EQ(CommonOutcome({200, "", "", 0})->outcome, Outcome::kSent);
  EXPECT_EQ(CommonOutcome({503, "", "", 2000})->retry_after_ms, 2000);
  EXPECT_EQ(CommonOutcome({500, "", "", 0})->outcome, Outcome::kRetry);
  EXPECT_EQ(CommonOutcome({429, "", "", 0})->outcome, Outcome::kRetry);
  EXPECT_FALSE(CommonOutcome({400, "", "", 0}).has_value());
  EXPECT_FALSE(CommonOutcome({410, "", "", 0}).has_value());
}

TEST(PreviewTest, Parses) {
  EXPECT_EQ(*ParsePreview("none"), Preview::kNone);
  EXPECT_EQ(*ParsePreview("sender"), Preview::kSender);
  EXPECT_EQ(*ParsePreview("full"), Preview::kFull);
  EXPECT_FALSE(ParsePreview("all").ok());
}

}  // namespace
}  // namespace parley::push
