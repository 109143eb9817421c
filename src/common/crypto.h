// Small wrappers over libsodium used by several components.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace parley {

// Lower-case hex of SHA-256(data).
std::string Sha256Hex(std::string_view data);
// `bytes` random bytes from the OS CSPRNG, as URL-safe base64 without padding.
std::string RandomToken(std::size_t bytes);
// Constant-time comparison of two equal-length strings (false if lengths differ).
bool ConstantTimeEquals(std::string_view a, std::string_view b);
std::string HexEncode(std::string_view bytes);
// URL-safe base64 without padding (RFC 4648 section 5), as JWTs use.
std::string Base64UrlEncode(std::string_view bytes);

}  // namespace parley
