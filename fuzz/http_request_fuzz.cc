// Raw bytes off an HTTP connection, the way the gateway reads them (src/gateway/
// http_session.cc): Beast's request parser with the gateway's header limit, the target parsed
// as origin-form by Boost.URL, and the path matched by the API's Router. Nothing crashes, and
// a route match captures exactly its pattern's `{name}` segments, each one non-empty and free
// of slashes.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/router.h"
#include "fuzz_check.h"

namespace http = boost::beast::http;
using parley::api::Router;

namespace {

// The shapes of the API's routes (src/api/*.cc): literals, captures, nested captures, the root
// and a catch-all single segment. Each route's handler is the number of captures it has.
const Router<size_t>& Routes() {
  static const Router<size_t> router = [] {
    Router<size_t> r;
    r.Add("GET", "/", 0);
    r.Add("GET", "/{file}", 1);
    r.Add("GET", "/web/{file}", 1);
    r.Add("POST", "/v1/messages", 0);
    r.Add("GET", "/v1/conversations/{id}/messages", 1);
    r.Add("PUT", "/v1/groups/{id}/members/{user}", 2);
    r.Add("DELETE", "/v1/groups/{id}/members/{user}", 2);
    r.Add("GET", "/v1/media/{id}/thumbnail", 1);
    return r;
  }();
  return router;
}

void Route(std::string_view method, std::string_view path) {
  auto match = Routes().Find(method, path);
  if (!match.handler) return;
  FUZZ_CHECK(!match.method_not_allowed);
  FUZZ_CHECK(match.params.size() == *match.handler);
  for (const auto& [name, value] : match.params) {
    FUZZ_CHECK(!value.empty() && value.find('/') == std::string::npos);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);  // GatewayOptions::max_header_bytes
  parser.body_limit(64 * 1024);
  parser.eager(true);
  // Feed the bytes as a socket read would, until the parser wants more or fails.
  boost::beast::error_code ec;
  size_t used = 0;
  while (used < size && !parser.is_done()) {
    size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec || n == 0) break;
    used += n;
  }
  if (!parser.is_header_done()) return 0;

  const auto& req = parser.get();
  auto url = boost::urls::parse_origin_form(req.target());
  if (!url) return 0;
  std::string path = url->path();
  for (auto param : url->params()) (void)param.value.size();
  Route(req.method_string(), path);
  return 0;
}
