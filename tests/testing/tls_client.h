// Private to the test clients: the client side of TLS over a Transport.
#pragma once

#include <boost/asio/ssl.hpp>

#include <memory>

#include "net/transport.h"
#include "testing/tls_options.h"

namespace parley::testing {

// A client context for `options` (throws std::runtime_error on a bad option).
std::unique_ptr<boost::asio::ssl::context> MakeClientTlsContext(const TlsOptions& options);

// Puts TLS over the connected `transport` and runs the client handshake;
// `done(error_code)` runs on the transport's executor.
template <class Handler>
void AsyncClientHandshake(Transport& transport, boost::asio::ssl::context& context,
                          Handler&& done) {
  transport.StartTls(context);
  transport.tls().set_verify_callback(boost::asio::ssl::host_name_verification("127.0.0.1"));
  transport.tls().async_handshake(boost::asio::ssl::stream_base::client,
                                  std::forward<Handler>(done));
}

// "TLSv1.3 TLS_AES_256_GCM_SHA384": the negotiated version and cipher.
std::string DescribeTls(Transport& transport);

}  // namespace parley::testing
