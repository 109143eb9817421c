#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "gateway/internal.h"

namespace parley::gateway {
namespace {

// TLS 1.2 suites: ECDHE key exchange (forward secrecy) with AEAD ciphers
// only. TLS 1.3 suites are all AEAD and keep OpenSSL's defaults.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// OpenSSL's reason for the last failure, e.g. "no start line".
std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(code);
  return reason ? reason : "OpenSSL error " + std::to_string(code);
}

Status CheckReadable(const std::string& flag, const std::string& file) {
  std::ifstream in(file);
  if (!in) return BadRequest(flag + " " + file + ": cannot read: " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<net::ssl::context>> MakeServerTlsContext(const std::string& cert_file,
                                                                const std::string& key_file) {
  PARLEY_RETURN_IF_ERROR(CheckReadable("--tls-cert", cert_file));
  PARLEY_RETURN_IF_ERROR(CheckReadable("--tls-key", key_file));
  auto context = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_NO_COMPRESSION | SSL_OP_SINGLE_DH_USE);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return Internal("TLS cipher list refused: " + OpenSslError());
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return BadRequest("--tls-cert " + cert_file +
                      ": not a PEM certificate chain: " + OpenSslError());
  }
  // OpenSSL checks the key against the certificate here already ("key values
  // mismatch"); the last check covers key types it cannot compare on loading.
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return BadRequest("--tls-key " + key_file + ": not a PEM private key of the certificate in " +
                      cert_file + ": " + OpenSslError());
  }
  return context;
}

}  // namespace parley::gateway
