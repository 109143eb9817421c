// ServerUrl: where a Parley server is, parsed from "http://host:port",
// "https://…", "ws://…" or "wss://…" (a trailing path is ignored; the client
// always talks to /v1/…).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace parley::client {

struct ServerUrl {
  bool tls = false;
  std::string host;  // without IPv6 brackets
  std::string port;  // always set ("80"/"443" by default)

  // Accepts http, https, ws and wss; a missing scheme means http.
  static Result<ServerUrl> Parse(std::string_view text);
  // "host:port" as sent in the Host header (IPv6 hosts in brackets).
  std::string HostHeader() const;
  // "http://host:port" or "https://host:port".
  std::string ToString() const;
};

}  // namespace parley::client
