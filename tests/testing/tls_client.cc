#include "testing/tls_client.h"

#include <openssl/ssl.h>

#include <map>
#include <stdexcept>

namespace parley::testing {

namespace ssl = boost::asio::ssl;

std::unique_ptr<ssl::context> MakeClientTlsContext(const TlsOptions& options) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX* ctx = context->native_handle();
  if (!options.version.empty()) {
    static const std::map<std::string, int> kVersions = {
        {"1", TLS1_VERSION}, {"1.1", TLS1_1_VERSION}, {"1.2", TLS1_2_VERSION},
        {"1.3", TLS1_3_VERSION}};
    auto it = kVersions.find(options.version);
    if (it == kVersions.end()) throw std::runtime_error("unknown TLS version " + options.version);
    SSL_CTX_set_min_proto_version(ctx, it->second);
    SSL_CTX_set_max_proto_version(ctx, it->second);
    // OpenSSL 3 would not even offer TLS 1.0/1.1 at its default level.
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
  }
  if (!options.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, options.ciphers.c_str()) != 1) {
    throw std::runtime_error("bad cipher list " + options.ciphers);
  }
  if (!options.ca_file.empty()) {
    context->load_verify_file(options.ca_file);
    context->set_verify_mode(ssl::verify_peer);
  }
  return context;
}

std::string DescribeTls(Transport& transport) {
  if (!transport.is_tls()) return "";
  SSL* s = transport.tls().native_handle();
  return std::string(SSL_get_version(s)) + " " + SSL_get_cipher_name(s);
}

}  // namespace parley::testing
