#include "push/jwt.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <boost/json/serialize.hpp>
#include <fstream>
#include <sstream>

#include "common/crypto.h"

namespace parley::push {
namespace {

constexpr size_t kP256CoordinateBytes = 32;

// OpenSSL gives ECDSA signatures as DER; JWS (RFC 7518 3.4) wants r||s.
Result<std::string> DerToRawEcdsa(const std::string& der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())), ECDSA_SIG_free);
  if (!sig) return Internal("ES256: malformed signature");
  std::string raw(2 * kP256CoordinateBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, kP256CoordinateBytes) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + kP256CoordinateBytes, kP256CoordinateBytes) <
          0) {
    return Internal("ES256: signature does not fit P-256");
  }
  return raw;
}

}  // namespace

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return Internal("out of memory reading a key");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) return BadRequest("not a PEM private key");
  PrivateKey out(std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free));
  if (out.is_ec() && EVP_PKEY_get_bits(key) != 256) return BadRequest("EC key is not P-256");
  if (!out.is_ec() && !out.is_rsa()) return BadRequest("key is neither RSA nor EC");
  return out;
}

Result<PrivateKey> PrivateKey::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return BadRequest("cannot read key file " + path);
  std::stringstream text;
  text << in.rdbuf();
  Result<PrivateKey> key = FromPem(text.str());
  if (!key.ok()) return BadRequest(path + ": " + key.status().message());
  return key;
}

bool PrivateKey::is_ec() const { return EVP_PKEY_base_id(key_.get()) == EVP_PKEY_EC; }
bool PrivateKey::is_rsa() const { return EVP_PKEY_base_id(key_.get()) == EVP_PKEY_RSA; }

Result<std::string> PrivateKey::Sign(std::string_view data) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return Internal("signing failed");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return Internal("signing failed");
  }
  signature.resize(length);
  if (is_ec()) return DerToRawEcdsa(signature);
  return signature;
}

Result<std::string> SignJwt(const PrivateKey& key, boost::json::object header,
                            const boost::json::object& claims) {
  header["alg"] = key.is_ec() ? "ES256" : "RS256";
  std::string input = Base64UrlEncode(boost::json::serialize(header)) + "." +
                      Base64UrlEncode(boost::json::serialize(claims));
  Result<std::string> signature = key.Sign(input);
  if (!signature.ok()) return signature.status();
  return input + "." + Base64UrlEncode(*signature);
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return HexEncode({reinterpret_cast<const char*>(digest), length});
}

}  // namespace parley::push
