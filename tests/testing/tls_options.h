// TLS for the test clients (HttpClient, WsClient) against a server started
// with --tls-cert/--tls-key. Asio and OpenSSL stay out of this header.
#pragma once

#include <string>

namespace parley::testing {

struct TlsOptions {
  // The certificate (or CA) the server must present; empty: not verified.
  // Verified for the address 127.0.0.1.
  std::string ca_file;
  // Offer exactly this protocol version: "1", "1.1", "1.2" or "1.3"; empty:
  // OpenSSL's defaults. Old versions are really offered (security level 0),
  // so that a refusal is the server's.
  std::string version;
  // TLS 1.2 cipher list to offer (OpenSSL syntax); empty: OpenSSL's default.
  std::string ciphers;
};

}  // namespace parley::testing
