// FakePushProviders: the fake APNs (HTTP/2 + TLS), FCM (OAuth2 token and HTTP
// v1 send) and webhook endpoints of push_fake.js, run with Node for tests.
// Generates its TLS certificate and signing keys with the openssl CLI in a
// fresh temp dir, records every request, and answers as scripted.
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley::testing {

class FakePushProviders {
 public:
  FakePushProviders();
  ~FakePushProviders();
  FakePushProviders(const FakePushProviders&) = delete;
  FakePushProviders& operator=(const FakePushProviders&) = delete;

  bool ok() const { return pid_ > 0 && http_port_ != 0; }
  const std::string& error() const { return error_; }
  uint16_t http_port() const { return http_port_; }
  uint16_t apns_port() const { return apns_port_; }
  // http://127.0.0.1:PORT + path on the HTTP/1.1 fake (webhooks).
  std::string HttpUrl(std::string_view path) const;
  const std::string& tls_cert() const { return tls_cert_; }
  const std::string& apns_key() const { return apns_key_; }
  const std::string& fcm_credentials() const { return fcm_credentials_; }
  static constexpr std::string_view kFcmProject = "parley-test";
  static constexpr std::string_view kFcmClientEmail = "push@parley-test.iam.gserviceaccount.com";
  static constexpr std::string_view kApnsKeyId = "KEY1234567";
  static constexpr std::string_view kApnsTeamId = "TEAM987654";
  static constexpr std::string_view kApnsTopic = "com.example.parley";

  // parley-server flags that point every provider at this fake.
  std::vector<std::string> ServerArgs(std::string_view webhook_secret) const;

  // Every recorded request ({server, method, path, headers, body, jwt?...}).
  std::vector<boost::json::object> Requests() const;
  // Recorded requests whose path contains `path_part`.
  std::vector<boost::json::object> RequestsTo(std::string_view path_part) const;
  // Waits until at least `n` requests' paths contain `path_part`; returns them all.
  std::vector<boost::json::object> WaitFor(std::string_view path_part, size_t n,
                                           std::chrono::milliseconds timeout) const;
  // The next `times` requests whose path contains `match` get `status` and `body`.
  void Script(std::string_view match, int status, const boost::json::value& body = {},
              int times = 1) const;
  // Forgets recorded requests and scripts.
  void Reset() const;

 private:
  bool Run(const std::string& command);

  std::string dir_, tls_cert_, tls_key_, apns_key_, fcm_key_, fcm_credentials_, error_;
  pid_t pid_ = -1;
  uint16_t http_port_ = 0, apns_port_ = 0;
};

// One fake for the whole test binary, started on first use (keys are made
// once); call Reset() at the start of each test.
FakePushProviders& SharedFakePushProviders();

}  // namespace parley::testing
