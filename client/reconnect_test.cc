// The client's reconnect policy against a scripted fake server on loopback:
// a 503 with Retry-After on the upgrade, a 1013 close after the upgrade, and
// a 401 that ends the attempts.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "client/client.h"

namespace parley::client {
namespace {

using namespace std::chrono_literals;

std::string AcceptKey(const std::string& request) {
  const std::string marker = "Sec-WebSocket-Key: ";
  size_t at = request.find(marker);
  if (at == std::string::npos) return "";
  std::string key =
      request.substr(at + marker.size(), request.find("\r\n", at) - at - marker.size());
  key += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  unsigned char out[64] = {};
  EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return reinterpret_cast<char*>(out);
}

// Answers every connection with `reply(request)` and closes it.
class FakeServer {
 public:
  explicit FakeServer(std::function<std::string(const std::string&)> reply)
      : reply_(std::move(reply)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen(fd_, 16);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeServer() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }

 private:
  void Serve() {
    while (true) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      std::string out = reply_(request);
      (void)!write(c, out.data(), out.size());
      shutdown(c, SHUT_WR);
      while (read(c, buf, sizeof buf) > 0) {
      }
      close(c);
    }
  }

  std::function<std::string(const std::string&)> reply_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

ClientOptions FastOptions(const std::string& url) {
  ClientOptions o;
  o.server = url;
  o.token = "t";
  o.backoff.base = 1ms;
  o.backoff.cap = 10ms;
  o.backoff.overload_floor = 1500ms;
  return o;
}

std::optional<Event> NextOf(Client& c, EventType type) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto e = c.NextEvent(50ms);
    if (e && e->type == type) return e;
  }
  return std::nullopt;
}

TEST(ReconnectTest, RetryAfterOnTheUpgradeIsAFloor) {
  FakeServer server([](const std::string&) {
    return "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n";
  });
  Client c(FastOptions(server.url()));
  ASSERT_TRUE(c.Start());
  auto e = NextOf(c, EventType::kReconnecting);
  ASSERT_TRUE(e);
  EXPECT_GE(e->retry_in, 2000ms);
  EXPECT_LE(e->retry_in, 2010ms);
  EXPECT_NE(e->detail.find("503"), std::string::npos) << e->detail;
}

TEST(ReconnectTest, A1013CloseWaitsAtLeastTheOverloadFloor) {
  FakeServer server([](const std::string& request) {
    std::string close_frame = {'\x88', '\x02', '\x03', '\xf5'};  // close, code 1013
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: " +
           AcceptKey(request) + "\r\n\r\n" + close_frame;
  });
  Client c(FastOptions(server.url()));
  ASSERT_TRUE(c.Start());
  auto d = NextOf(c, EventType::kDisconnected);
  ASSERT_TRUE(d);
  EXPECT_NE(d->detail.find("1013"), std::string::npos) << d->detail;
  auto e = NextOf(c, EventType::kReconnecting);
  ASSERT_TRUE(e);
  EXPECT_GE(e->retry_in, 1500ms);
}

TEST(ReconnectTest, PlainFailuresBackOffAndGiveUpAfterMaxAttempts) {
  FakeServer server([](const std::string&) { return std::string(); });  // closes at once
  ClientOptions o = FastOptions(server.url());
  o.backoff.max_attempts = 3;
  Client c(o);
  ASSERT_TRUE(c.Start());
  auto e = NextOf(c, EventType::kGaveUp);
  ASSERT_TRUE(e);
  EXPECT_EQ(server.connections(), 4);  // the first try and 3 retries
}

TEST(ReconnectTest, Unauthorized401IsFinal) {
  FakeServer server([](const std::string&) {
    std::string body = R"({"error":{"code":"unauthorized","message":"bad token"}})";
    return "HTTP/1.1 401 Unauthorized\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
  });
  Client c(FastOptions(server.url()));
  ASSERT_TRUE(c.Start());
  auto e = NextOf(c, EventType::kGaveUp);
  ASSERT_TRUE(e);
  EXPECT_NE(e->detail.find("401"), std::string::npos);
  EXPECT_EQ(server.connections(), 1);
}

}  // namespace
}  // namespace parley::client
