// The browser Origin allow-list (--allowed-origins). Browsers say which page
// made a request in the Origin header; other clients send none. A request
// without Origin and a same-origin one (Origin's host:port is the Host the
// request was sent to) always pass; a cross-origin one passes only when its
// origin is listed (or the list is "*"), and then gets CORS headers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parley::gateway {

class OriginPolicy {
 public:
  enum class Verdict {
    kNoOrigin,    // not from a browser page
    kSameOrigin,  // from a page this server served
    kAllowed,     // cross-origin, listed: answer with CORS headers
    kRefused,     // cross-origin, not listed: 403
  };

  // `allowed`: "scheme://host[:port]" origins, or "*" for any. BadRequest
  // names an entry that is not an origin.
  static Result<OriginPolicy> Create(const std::vector<std::string>& allowed);

  // `origin`: the Origin header ("" when absent); `host`: the Host header.
  Verdict Check(std::string_view origin, std::string_view host) const;

 private:
  OriginPolicy() = default;
  bool any_ = false;
  std::vector<std::string> allowed_;  // normalized (lower case, no trailing slash)
};

}  // namespace parley::gateway
