#include "client/url.h"

#include <algorithm>
#include <cctype>

namespace parley::client {
namespace {

bool ValidPort(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  if (!std::all_of(p.begin(), p.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return false;
  }
  int n = std::stoi(std::string(p));
  return n > 0 && n < 65536;
}

}  // namespace

Result<ServerUrl> ServerUrl::Parse(std::string_view text) {
  ServerUrl url;
  std::string_view rest = text;
  size_t scheme_end = rest.find("://");
  std::string scheme = "http";
  if (scheme_end != std::string_view::npos) {
    scheme = std::string(rest.substr(0, scheme_end));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), ::tolower);
    rest.remove_prefix(scheme_end + 3);
  }
  if (scheme == "https" || scheme == "wss") {
    url.tls = true;
  } else if (scheme != "http" && scheme != "ws") {
    return BadRequest("unsupported URL scheme '" + scheme + "' (use http, https, ws or wss)");
  }
  rest = rest.substr(0, rest.find_first_of("/?#"));
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return BadRequest("malformed IPv6 host in URL");
    url.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return BadRequest("malformed URL after the host");
      port = after.substr(1);
    }
  } else {
    size_t colon = rest.rfind(':');
    url.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (url.host.empty()) return BadRequest("the URL has no host: '" + std::string(text) + "'");
  if (port.empty()) {
    url.port = url.tls ? "443" : "80";
  } else if (ValidPort(port)) {
    url.port = std::string(port);
  } else {
    return BadRequest("invalid port in URL: '" + std::string(port) + "'");
  }
  return url;
}

std::string ServerUrl::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + port;
}

std::string ServerUrl::ToString() const {
  return std::string(tls ? "https://" : "http://") + HostHeader();
}

}  // namespace parley::client
