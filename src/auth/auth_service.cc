#include "auth/auth_service.h"

#include <sodium.h>

#include <algorithm>

#include "common/crypto.h"
#include "common/ids.h"

namespace parley::auth {
namespace {
constexpr size_t kMinPassword = 8;
constexpr size_t kMaxDisplayName = 64;
constexpr size_t kTokenBytes = 32;  // 256 random bits
constexpr size_t kMaxTokenCache = 200'000;
}  // namespace

AuthService::AuthService(store::Store& store, const Clock& clock, AuthOptions options)
    : store_(store),
      clock_(clock),
      options_(options),
      login_limiter_(RateLimiter::PerMinute(clock, options.login_rate_per_min)),
      register_limiter_(RateLimiter::PerMinute(clock, options.register_rate_per_min)),
      password_checks_(options.metrics
                           ? options.metrics->AddCounter(
                                 "parley_password_checks_total",
                                 "argon2id verifications at login, unknown users included")
                           : unexported_checks_) {
  dummy_hash_ = HashPassword("parley-dummy-password").value();
}

Result<std::string> AuthService::HashPassword(std::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  if (sodium_init() < 0 ||
      crypto_pwhash_str_alg(out, password.data(), password.size(), options_.argon2_opslimit,
                            options_.argon2_memlimit_bytes, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Internal("password hashing failed (out of memory?)");
  }
  return std::string(out);
}

std::string AuthService::TokenKey(std::string_view token) { return Sha256Hex(token); }

bool AuthService::VerifyPassword(std::string_view hash, std::string_view password) const {
  std::string h(hash);  // libsodium wants a NUL-terminated string
  return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

Result<std::string> AuthService::Register(std::string_view user_id, std::string_view password,
                                          std::string_view display_name,
                                          std::string_view remote_address) {
  PARLEY_RETURN_IF_ERROR(register_limiter_.Admit(
      remote_address, "too many registrations from this address; try again later"));
  auto id = NormalizeUserId(user_id);
  if (!id.ok()) return id.status();
  if (password.size() < kMinPassword || password.size() > options_.max_password_bytes) {
    return BadRequest("password must be 8-1024 bytes");
  }
  if (display_name.size() > kMaxDisplayName) return BadRequest("display_name is too long");
  auto hash = HashPassword(password);
  if (!hash.ok()) return hash.status();
  store::UserRecord user;
  user.user_id = *id;
  user.display_name = display_name.empty() ? *id : std::string(display_name);
  user.password_hash = *hash;
  user.created_at = clock_.NowMs();
  Status s = store_.CreateUser(user);
  if (s.code() == Code::kConflict) return Conflict("user_id is taken");
  if (!s.ok()) return s;
  return *id;
}

Result<LoginResult> AuthService::Login(std::string_view user_id, std::string_view password,
                                       std::string_view device, std::string_view remote_address) {
  auto id = NormalizeUserId(user_id);
  // The same answer for an invalid id as for a wrong password: no enumeration.
  std::string key = id.ok() ? *id : std::string(user_id.substr(0, 64));
  int64_t wait = std::max(login_limiter_.Acquire("u:" + key),
                          login_limiter_.Acquire("a:" + std::string(remote_address)));
  if (wait > 0) return RateLimited("too many login attempts; try again later").WithRetryAfter(wait);
  if (password.size() > options_.max_password_bytes) return Unauthorized("wrong user or password");
  auto user = id.ok() ? store_.GetUser(*id) : Result<store::UserRecord>(NotFound(""));
  if (!user.ok() && user.status().code() != Code::kNotFound) return user.status();
  password_checks_.Inc();
  bool verified = VerifyPassword(user.ok() ? user->password_hash : dummy_hash_, password);
  if (!user.ok() || !verified) return Unauthorized("wrong user or password");

  LoginResult result{RandomToken(kTokenBytes), user->user_id,
                     clock_.NowMs() + options_.token_ttl_ms};
  store::TokenRecord record{TokenKey(result.token), result.user_id, std::string(device.substr(0, 64)),
                            clock_.NowMs(), result.expires_at};
  PARLEY_RETURN_IF_ERROR(store_.PutToken(record));
  return result;
}

Result<std::string> AuthService::Authenticate(std::string_view token) {
  if (token.empty() || token.size() > 512) return Unauthorized("missing or invalid token");
  return AuthenticateKey(TokenKey(token));
}

Result<std::string> AuthService::AuthenticateKey(const std::string& key) {
  int64_t now = clock_.NowMs();
  {
    std::lock_guard lock(cache_mu_);
    auto it = token_cache_.find(key);
    if (it != token_cache_.end()) {
      if (it->second.expires_at <= now) {
        token_cache_.erase(it);
        return Unauthorized("token expired");
      }
      if (it->second.user_id.empty()) return Unauthorized("token revoked");
      return it->second.user_id;
    }
  }
  auto record = store_.GetToken(key);
  if (!record.ok()) {
    if (record.status().code() == Code::kNotFound) return Unauthorized("missing or invalid token");
    return record.status();
  }
  if (record->expires_at <= now) return Unauthorized("token expired");
  std::lock_guard lock(cache_mu_);
  if (token_cache_.size() >= kMaxTokenCache) token_cache_.clear();
  // try_emplace: a revocation that raced with the read above stays in force.
  token_cache_.try_emplace(key, CachedToken{record->user_id, record->expires_at});
  return record->user_id;
}

Status AuthService::Logout(std::string_view token) {
  auto user = Authenticate(token);
  if (!user.ok()) return user.status();
  std::string key = TokenKey(token);
  {
    // The mark goes in before the record goes: no lookup can cache it valid again.
    std::lock_guard lock(cache_mu_);
    auto& cached = token_cache_[key];
    cached.user_id.clear();
    cached.expires_at = std::max(cached.expires_at, clock_.NowMs() + options_.token_ttl_ms);
  }
  return store_.DeleteToken(key);
}

}  // namespace parley::auth
