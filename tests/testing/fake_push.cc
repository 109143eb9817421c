#include "testing/fake_push.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "testing/http_client.h"

#ifndef PARLEY_PUSH_FAKE_JS
#define PARLEY_PUSH_FAKE_JS "push_fake.js"
#endif

namespace parley::testing {
namespace json = boost::json;

bool FakePushProviders::Run(const std::string& command) {
  if (std::system((command + " >/dev/null 2>&1").c_str()) == 0) return true;
  error_ = "failed: " + command;
  return false;
}

FakePushProviders::FakePushProviders() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "parley_push_fake_XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    error_ = "mkdtemp failed";
    return;
  }
  dir_ = pattern;
  tls_cert_ = dir_ + "/tls.crt";
  tls_key_ = dir_ + "/tls.key";
  apns_key_ = dir_ + "/apns.p8";
  fcm_key_ = dir_ + "/fcm.pem";
  fcm_credentials_ = dir_ + "/fcm.json";
  if (!Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
           " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
           tls_key_ + " -out " + tls_cert_) ||
      !Run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + apns_key_) ||
      !Run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + fcm_key_)) {
    return;
  }
  int out[2];
  if (pipe(out) != 0) return;
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    execlp("node", "node", PARLEY_PUSH_FAKE_JS, "--tls-key", tls_key_.c_str(), "--tls-cert",
           tls_cert_.c_str(), "--apns-key", apns_key_.c_str(), "--fcm-key", fcm_key_.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string line;
  pollfd p{out[0], POLLIN, 0};
  while (line.find('\n') == std::string::npos && poll(&p, 1, 15000) > 0) {
    char buffer[256];
    ssize_t n = read(out[0], buffer, sizeof buffer);
    if (n <= 0) break;
    line.append(buffer, n);
  }
  close(out[0]);
  boost::system::error_code ec;
  json::value ports = json::parse(line, ec);
  if (ec || !ports.is_object()) {
    error_ = "push_fake.js did not start: " + line;
    return;
  }
  http_port_ = static_cast<uint16_t>(ports.at("http").to_number<int>());
  apns_port_ = static_cast<uint16_t>(ports.at("apns").to_number<int>());
  // A service-account key as the Firebase console makes them.
  std::ifstream key_in(fcm_key_);
  std::stringstream pem;
  pem << key_in.rdbuf();
  json::object account{{"type", "service_account"},       {"project_id", kFcmProject},
                       {"private_key_id", "fcm-key-1"},   {"private_key", pem.str()},
                       {"client_email", kFcmClientEmail}, {"token_uri", HttpUrl("/token")}};
  std::ofstream(fcm_credentials_) << json::serialize(account);
}

FakePushProviders::~FakePushProviders() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

std::string FakePushProviders::HttpUrl(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(http_port_) + std::string(path);
}

std::vector<std::string> FakePushProviders::ServerArgs(std::string_view webhook_secret) const {
  std::string apns = "https://127.0.0.1:" + std::to_string(apns_port_);
  return {"--push-webhook-secret",  std::string(webhook_secret),
          "--push-fcm-credentials", fcm_credentials_,
          "--push-fcm-endpoint",    HttpUrl(""),
          "--push-apns-key-file",   apns_key_,
          "--push-apns-key-id",     std::string(kApnsKeyId),
          "--push-apns-team-id",    std::string(kApnsTeamId),
          "--push-apns-topic",      std::string(kApnsTopic),
          "--push-apns-endpoint",   apns,
          "--push-ca-file",         tls_cert_};
}

std::vector<json::object> FakePushProviders::Requests() const {
  HttpClient http(http_port_);
  HttpResponse r = http.Get("/_control/requests");
  std::vector<json::object> out;
  json::value all = r.json();
  if (!all.is_array()) return out;
  for (const json::value& v : all.get_array()) {
    if (v.is_object()) out.push_back(v.get_object());
  }
  return out;
}

std::vector<json::object> FakePushProviders::RequestsTo(std::string_view path_part) const {
  std::vector<json::object> out;
  for (json::object& r : Requests()) {
    const json::value* path = r.if_contains("path");
    if (path != nullptr && path->is_string() &&
        std::string_view(path->get_string()).find(path_part) != std::string_view::npos) {
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::vector<json::object> FakePushProviders::WaitFor(std::string_view path_part, size_t n,
                                                     std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::vector<json::object> found = RequestsTo(path_part);
    if (found.size() >= n || std::chrono::steady_clock::now() > deadline) return found;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

void FakePushProviders::Script(std::string_view match, int status, const json::value& body,
                               int times) const {
  HttpClient http(http_port_);
  json::object script{{"match", match}, {"status", status}, {"times", times}};
  if (!body.is_null()) script["body"] = body;
  http.Post("/_control/script", script);
}

FakePushProviders& SharedFakePushProviders() {
  static FakePushProviders fake;
  return fake;
}

void FakePushProviders::Reset() const {
  HttpClient http(http_port_);
  http.Post("/_control/reset", json::object{});
}

}  // namespace parley::testing
