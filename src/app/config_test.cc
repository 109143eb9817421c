#include "app/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace parley::app {
namespace {

Result<ParsedConfig> Parse(std::vector<std::string> args) {
  std::vector<const char*> argv{"parley-server"};
  for (auto& a : args) argv.push_back(a.c_str());
  return ParseConfig(static_cast<int>(argv.size()), argv.data());
}

TEST(ConfigTest, DefaultsMatchTheSpec) {
  auto c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->config.listen, "127.0.0.1:8080");
  EXPECT_EQ(c->config.data_dir, "./data");
  EXPECT_EQ(c->config.durability, "fsync");
  EXPECT_EQ(c->config.token_ttl_s, 30 * 24 * 3600);
  EXPECT_EQ(c->config.max_frame_bytes, 64u * 1024);
  EXPECT_EQ(c->config.max_text_bytes, 16u * 1024);
}

TEST(ConfigTest, FlagsOverride) {
  auto c = Parse({"--listen", "0.0.0.0:9000", "--durability", "os", "--node-id", "7"});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->config.listen, "0.0.0.0:9000");
  EXPECT_EQ(c->config.durability, "os");
  EXPECT_EQ(c->config.node_id, 7);
}

TEST(ConfigTest, RedisFlags) {
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->config.redis, "");
  EXPECT_EQ(defaults->config.presence_ttl_ms, 30'000);
  auto c = Parse({"--redis", "redis://a:7000,redis://b", "--presence-ttl-ms", "5000"});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->config.redis, "redis://a:7000,redis://b");
  EXPECT_EQ(c->config.presence_ttl_ms, 5000);
  for (std::vector<std::string> bad : {std::vector<std::string>{"--redis", "a:7000"},
                                       {"--redis", "redis://a,http://b"},
                                       {"--presence-ttl-ms", "10"}}) {
    auto r = Parse(bad);
    EXPECT_FALSE(r.ok()) << bad[0] << " " << bad[1];
  }
}

TEST(ConfigTest, MediaFlags) {
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->config.max_media_bytes, 100u * 1024 * 1024);
  EXPECT_TRUE(defaults->config.media_types.empty());
  EXPECT_EQ(defaults->config.media_gc_age_s, 24 * 3600);
  auto c = Parse({"--max-media-bytes", "1048576", "--media-types", "image/png,audio/*",
                  "--media-gc-age", "60", "--media-gc-interval", "5"});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->config.max_media_bytes, 1024u * 1024);
  EXPECT_EQ(c->config.media_types, (std::vector<std::string>{"image/png", "audio/*"}));
  EXPECT_EQ(c->config.media_gc_age_s, 60);
  EXPECT_EQ(c->config.media_gc_interval_s, 5);
  EXPECT_FALSE(Parse({"--max-media-bytes", "0"}).ok());
  EXPECT_FALSE(Parse({"--media-gc-age", "-1"}).ok());
}

TEST(ConfigTest, RejectsBadValues) {
  EXPECT_FALSE(Parse({"--durability", "maybe"}).ok());
  EXPECT_FALSE(Parse({"--node-id", "5000"}).ok());
  EXPECT_FALSE(Parse({"--listen", "nohost"}).ok());
  EXPECT_FALSE(Parse({"--listen", "127.0.0.1:70000"}).ok());
  EXPECT_FALSE(Parse({"--no-such-flag"}).ok());
  EXPECT_FALSE(Parse({"--store", "cassandra://x"}).ok());
}

TEST(ConfigTest, StoreIsRocksDbOrAPostgresUrl) {
  EXPECT_EQ(Parse({})->config.store, "rocksdb");
  EXPECT_TRUE(Parse({"--store", "postgres://parley@127.0.0.1:5432/parley"}).ok());
  EXPECT_TRUE(Parse({"--store", "postgresql://db.example/parley?sslmode=require"}).ok());
  EXPECT_FALSE(Parse({"--store", "postgres"}).ok());
}

TEST(ConfigTest, ReadsTomlFileAndFlagsWin) {
  std::string path = ::testing::TempDir() + "/parley-config-test.toml";
  {
    std::ofstream f(path);
    f << "listen = \"127.0.0.1:9100\"\nsend_rate = 50.5\nnode-id = 3\nlog_level = \"debug\"\n";
  }
  auto c = Parse({"--config", path, "--node-id", "4"});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->config.listen, "127.0.0.1:9100");
  EXPECT_DOUBLE_EQ(c->config.send_rate, 50.5);
  EXPECT_EQ(c->config.log_level, "debug");
  EXPECT_EQ(c->config.node_id, 4);
  std::remove(path.c_str());
}

TEST(ConfigTest, BrokenTomlIsAnError) {
  std::string path = ::testing::TempDir() + "/parley-config-broken.toml";
  {
    std::ofstream f(path);
    f << "listen = \n";
  }
  EXPECT_FALSE(Parse({"--config", path}).ok());
  std::remove(path.c_str());
}

TEST(ConfigTest, HelpExitsCleanly) {
  auto c = Parse({"--help"});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->exit_now);
  EXPECT_EQ(c->exit_code, 0);
}

TEST(ConfigTest, PushDefaultsAndFlags) {
  auto d = Parse({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->config.push.coalesce_ms, 1000);
  EXPECT_EQ(d->config.push.preview, push::Preview::kSender);
  EXPECT_FALSE(d->config.push.allow_private_urls);
  EXPECT_TRUE(d->config.push.webhook.secret.empty());  // no provider: push disabled

  auto c = Parse({"--push-preview", "full", "--push-coalesce-ms", "50", "--push-allow-private-urls",
                  "--push-webhook-secret", "s3cret", "--push-apns-topic", "com.example.chat"});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->config.push.preview, push::Preview::kFull);
  EXPECT_EQ(c->config.push.coalesce_ms, 50);
  EXPECT_TRUE(c->config.push.allow_private_urls);
  EXPECT_EQ(c->config.push.webhook.secret, "s3cret");
  EXPECT_EQ(c->config.push.apns.topic, "com.example.chat");

  EXPECT_FALSE(Parse({"--push-preview", "everything"}).ok());
  EXPECT_FALSE(Parse({"--push-concurrency", "0"}).ok());
  EXPECT_FALSE(Parse({"--push-backoff-base-ms", "5000", "--push-backoff-max-ms", "10"}).ok());
}

TEST(ConfigTest, PushSettingsFromToml) {
  std::string path = ::testing::TempDir() + "/parley-push-config-test.toml";
  {
    std::ofstream f(path);
    f << "push_preview = \"none\"\npush_fcm_credentials = \"/etc/parley/fcm.json\"\n"
         "push_apns_endpoint = \"https://api.sandbox.push.apple.com\"\n";
  }
  auto c = Parse({"--config", path});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->config.push.preview, push::Preview::kNone);
  EXPECT_EQ(c->config.push.fcm.credentials_file, "/etc/parley/fcm.json");
  EXPECT_EQ(c->config.push.apns.endpoint, "https://api.sandbox.push.apple.com");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace parley::app

namespace parley::app {
namespace {

TEST(ConfigTest, TransportFlags) {
  auto d = Parse({});
  ASSERT_TRUE(d.ok()) << d.status().message();
  const TransportConfig& t = d->config.transport;
  EXPECT_TRUE(t.tls_cert.empty() && t.tls_key.empty());
  EXPECT_EQ(t.http_header_timeout_s, 10);
  EXPECT_EQ(t.http_body_timeout_s, 30);
  EXPECT_EQ(t.max_handshakes, 1000u);
  EXPECT_EQ(t.max_sessions_per_user, 100u);
  EXPECT_TRUE(t.allowed_origins.empty());

  auto c = Parse({"--tls-cert", "c.pem", "--tls-key", "k.pem", "--allowed-origins",
                  "https://a.example,http://localhost:3000", "--handshake-rate-per-address", "0",
                  "--handshake-rate-per-address", "5", "--max-sessions-per-user", "3"});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->config.transport.tls_cert, "c.pem");
  EXPECT_EQ(c->config.transport.allowed_origins,
            (std::vector<std::string>{"https://a.example", "http://localhost:3000"}));
  EXPECT_EQ(c->config.transport.handshake_rate_per_address, 5) << "the last repeated flag wins";
  EXPECT_EQ(c->config.transport.max_sessions_per_user, 3u);
}

TEST(ConfigTest, TlsCertAndKeyGoTogether) {
  auto c = Parse({"--tls-cert", "c.pem"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("--tls-key"), std::string::npos) << c.status().message();
  EXPECT_FALSE(Parse({"--tls-key", "k.pem"}).ok());
  EXPECT_FALSE(Parse({"--http-header-timeout", "0"}).ok());
  EXPECT_FALSE(Parse({"--handshake-rate-per-address", "-1"}).ok());
}

}  // namespace
}  // namespace parley::app
