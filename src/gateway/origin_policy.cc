#include "gateway/origin_policy.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

namespace parley::gateway {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int DefaultPort(std::string_view scheme) {
  if (scheme == "http") return 80;
  if (scheme == "https") return 443;
  return -1;
}

struct HostPort {
  std::string host;  // lower case; IPv6 with its brackets
  int port = -1;     // -1: none given
};

// "host", "host:port", "[v6]" or "[v6]:port".
std::optional<HostPort> ParseHostPort(std::string_view s) {
  HostPort out;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = Lower(s.substr(0, close + 1));
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    size_t colon = s.rfind(':');
    out.host = Lower(s.substr(0, colon));
    if (colon != std::string_view::npos) port = s.substr(colon + 1);
  }
  if (out.host.empty() || out.host.find_first_of("/?#@ ") != std::string::npos) return std::nullopt;
  if (!port.empty()) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
    if (ec != std::errc() || end != port.data() + port.size() || out.port < 0 || out.port > 65535)
      return std::nullopt;
  }
  return out;
}

struct Origin {
  std::string scheme;
  HostPort authority;  // port filled in from the scheme's default

  std::string Normalized() const {
    std::string out = scheme + "://" + authority.host;
    if (authority.port != DefaultPort(scheme)) out += ":" + std::to_string(authority.port);
    return out;
  }
};

// "scheme://host[:port]" (a trailing slash tolerated); nullopt otherwise,
// including the opaque origin "null".
std::optional<Origin> ParseOrigin(std::string_view s) {
  if (!s.empty() && s.back() == '/') s.remove_suffix(1);
  size_t sep = s.find("://");
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  Origin out{Lower(s.substr(0, sep)), {}};
  if (!std::isalpha(static_cast<unsigned char>(out.scheme[0])) ||
      !std::all_of(out.scheme.begin(), out.scheme.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
      })) {
    return std::nullopt;
  }
  auto authority = ParseHostPort(s.substr(sep + 3));
  if (!authority) return std::nullopt;
  out.authority = std::move(*authority);
  if (out.authority.port < 0) out.authority.port = DefaultPort(out.scheme);
  return out;
}

}  // namespace

Result<OriginPolicy> OriginPolicy::Create(const std::vector<std::string>& allowed) {
  OriginPolicy policy;
  for (const std::string& entry : allowed) {
    if (entry == "*") {
      policy.any_ = true;
      continue;
    }
    auto origin = ParseOrigin(entry);
    if (!origin) {
      return BadRequest("--allowed-origins: '" + entry +
                        "' is not an origin like https://chat.example.com (or *)");
    }
    policy.allowed_.push_back(origin->Normalized());
  }
  return policy;
}

OriginPolicy::Verdict OriginPolicy::Check(std::string_view origin, std::string_view host) const {
  if (origin.empty()) return Verdict::kNoOrigin;
  auto parsed = ParseOrigin(origin);
  if (parsed) {
    // The scheme is not compared: a proxy in front may have ended TLS.
    auto target = ParseHostPort(host);
    if (target && target->host == parsed->authority.host &&
        (target->port < 0 ? DefaultPort(parsed->scheme) : target->port) == parsed->authority.port) {
      return Verdict::kSameOrigin;
    }
  }
  if (any_) return Verdict::kAllowed;
  if (parsed && std::find(allowed_.begin(), allowed_.end(), parsed->Normalized()) != allowed_.end())
    return Verdict::kAllowed;
  return Verdict::kRefused;
}

}  // namespace parley::gateway
