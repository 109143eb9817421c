// Users, password hashing (argon2id) and bearer tokens (random, stored hashed,
// expiring, revocable). Synchronous: call from worker threads, not io threads.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/rate_limiter.h"
#include "common/status.h"
#include "store/store.h"

namespace parley::auth {

struct AuthOptions {
  int64_t token_ttl_ms = 30LL * 24 * 3600 * 1000;
  // argon2id cost; tests lower it to keep thousands of registrations fast.
  uint64_t argon2_opslimit = 2;
  size_t argon2_memlimit_bytes = 64 * 1024 * 1024;
  double login_rate_per_min = 30;  // per user and per address
  double register_rate_per_min = 20;  // per address
  size_t max_password_bytes = 1024;
  MetricsRegistry* metrics = nullptr;  // null: counters kept but not exported
};

struct LoginResult {
  std::string token;
  std::string user_id;
  int64_t expires_at = 0;
};

class AuthService {
 public:
  AuthService(store::Store& store, const Clock& clock, AuthOptions options);

  Result<std::string> Register(std::string_view user_id, std::string_view password,
                               std::string_view display_name, std::string_view remote_address);
  Result<LoginResult> Login(std::string_view user_id, std::string_view password,
                            std::string_view device, std::string_view remote_address);
  // The user a token belongs to; Unauthorized when unknown, expired or revoked.
  Result<std::string> Authenticate(std::string_view token);
  // The same, from the token's key (TokenKey): how open sessions are rechecked.
  Result<std::string> AuthenticateKey(const std::string& key);
  // Revokes the token at once, also against an Authenticate running concurrently.
  Status Logout(std::string_view token);

  // Tokens are stored and looked up only by this (SHA-256 hex): the raw token
  // is never compared, so lookups leak nothing through timing.
  static std::string TokenKey(std::string_view token);

  // Argon2id hashing, exposed for tests.
  Result<std::string> HashPassword(std::string_view password) const;
  bool VerifyPassword(std::string_view hash, std::string_view password) const;

 private:
  struct CachedToken {
    std::string user_id;  // "": revoked (kept until it would have expired)
    int64_t expires_at;
  };

  store::Store& store_;
  const Clock& clock_;
  const AuthOptions options_;
  RateLimiter login_limiter_;
  RateLimiter register_limiter_;
  Counter unexported_checks_;
  Counter& password_checks_;
  std::mutex cache_mu_;
  std::unordered_map<std::string, CachedToken> token_cache_;  // by token hash; guarded
  // A valid hash to verify against when the user does not exist, so that
  // login takes as long for unknown users as for wrong passwords.
  std::string dummy_hash_;
};

}  // namespace parley::auth
