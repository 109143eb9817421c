#include "client/url.h"

#include <gtest/gtest.h>

namespace parley::client {
namespace {

TEST(UrlTest, ParsesSchemesAndPorts) {
  auto u = ServerUrl::Parse("http://127.0.0.1:8080");
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "8080");
  auto s = ServerUrl::Parse("wss://chat.example.com/v1/ws");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->tls);
  EXPECT_EQ(s->port, "443");
  EXPECT_EQ(s->HostHeader(), "chat.example.com:443");
  auto v6 = ServerUrl::Parse("ws://[::1]:9000");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->HostHeader(), "[::1]:9000");
  EXPECT_EQ(ServerUrl::Parse("localhost:1234")->port, "1234");
}

TEST(UrlTest, RejectsBadUrls) {
  EXPECT_FALSE(ServerUrl::Parse("ftp://x").ok());
  EXPECT_FALSE(ServerUrl::Parse("http://:80").ok());
  EXPECT_FALSE(ServerUrl::Parse("http://host:99999").ok());
  EXPECT_FALSE(ServerUrl::Parse("http://host:abc").ok());
}

}  // namespace
}  // namespace parley::client
