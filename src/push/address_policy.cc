#include "push/address_policy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <boost/url/parse.hpp>
#include <cstring>
#include <memory>

namespace parley::push {
namespace {

bool IsPrivateV4(uint32_t a) {  // host byte order
  auto in = [a](uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); };
  return in(0x00000000, 8)      // 0.0.0.0/8 "this network"
         || in(0x0A000000, 8)   // 10/8
         || in(0x64400000, 10)  // 100.64/10 carrier-grade NAT
         || in(0x7F000000, 8)   // 127/8 loopback
         || in(0xA9FE0000, 16)  // 169.254/16 link-local (cloud metadata)
         || in(0xAC100000, 12)  // 172.16/12
         || in(0xC0000000, 24)  // 192.0.0/24 protocol assignments
         || in(0xC0A80000, 16)  // 192.168/16
         || in(0xC6120000, 15)  // 198.18/15 benchmarking
         || in(0xE0000000, 4)   // 224/4 multicast
         || in(0xF0000000, 4);  // 240/4 reserved and broadcast
}

bool IsPrivateV6(const in6_addr& a) {
  const uint8_t* b = a.s6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&a) || IN6_IS_ADDR_V4COMPAT(&a)) {
    uint32_t v4;
    std::memcpy(&v4, b + 12, 4);
    return IsPrivateV4(ntohl(v4));
  }
  return IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_LINKLOCAL(&a) ||
         IN6_IS_ADDR_SITELOCAL(&a) || IN6_IS_ADDR_MULTICAST(&a) ||
         (b[0] & 0xfe) == 0xfc;  // fc00::/7 unique local
}

}  // namespace

bool IsPrivateAddress(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    return IsPrivateV4(ntohl(reinterpret_cast<const sockaddr_in*>(address)->sin_addr.s_addr));
  }
  if (address->sa_family == AF_INET6) {
    return IsPrivateV6(reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr);
  }
  return true;  // anything else (unix sockets...) is not the public internet
}

Status CheckWebhookUrl(std::string_view url, bool allow_private, size_t max_len) {
  if (url.size() > max_len)
    return BadRequest("url is longer than " + std::to_string(max_len) + " bytes");
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return BadRequest("url is not an absolute URL");
  std::string scheme(parsed->scheme());
  if (scheme != "http" && scheme != "https") return BadRequest("url must be http or https");
  if (parsed->has_userinfo()) return BadRequest("url must not carry credentials");
  std::string host = parsed->host_address();
  if (host.empty()) return BadRequest("url has no host");
  if (allow_private) return Status::Ok();
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return BadRequest("url host does not resolve: " + host);
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (IsPrivateAddress(a->ai_addr)) {
      return BadRequest("url host " + host +
                        " is a loopback/private address (the server allows only public "
                        "webhook addresses unless --push-allow-private-urls)");
    }
  }
  return Status::Ok();
}

}  // namespace parley::push
