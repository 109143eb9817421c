// Signing for the push providers, with OpenSSL: JWTs (RS256 for the FCM OAuth2
// grant, ES256 for APNs provider tokens) and the webhook's HMAC-SHA256.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace parley::push {

// A private key read from PEM (PKCS#8 "BEGIN PRIVATE KEY", as in .p8 files
// and service-account keys; traditional RSA/EC PEM too).
class PrivateKey {
 public:
  static Result<PrivateKey> FromPem(std::string_view pem);
  static Result<PrivateKey> FromFile(const std::string& path);

  bool is_ec() const;   // EC P-256: ES256
  bool is_rsa() const;  // RSA: RS256
  // The JWS signature of `data`: PKCS#1 v1.5 for RSA, raw r||s (64 bytes) for EC.
  Result<std::string> Sign(std::string_view data) const;

 private:
  explicit PrivateKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

// header.claims.signature with `alg` (RS256 or ES256, after the key) added to `header`.
Result<std::string> SignJwt(const PrivateKey& key, boost::json::object header,
                            const boost::json::object& claims);

// Lower-case hex of HMAC-SHA256(key, data).
std::string HmacSha256Hex(std::string_view key, std::string_view data);

}  // namespace parley::push
