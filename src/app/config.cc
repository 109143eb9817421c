#include "app/config.h"

#include "cluster/redis_client.h"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <charconv>
#include <map>
#include <sstream>

#ifndef PARLEY_DEFAULT_WEB_DIR
#define PARLEY_DEFAULT_WEB_DIR "web"
#endif

namespace parley::app {
namespace {

// Lets CLI11 read --config files with a real TOML parser (toml++). Keys are
// the long flag names, with dashes or underscores.
class TomlConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App*, bool, bool, std::string) const override { return ""; }

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::stringstream text;
    text << input.rdbuf();
    toml::table table;
    try {
      table = toml::parse(text.str());
    } catch (const toml::parse_error& e) {
      throw CLI::ConversionError(std::string("config file: ") + std::string(e.description()));
    }
    std::vector<CLI::ConfigItem> items;
    for (auto&& [key, node] : table) {
      CLI::ConfigItem item;
      item.name = std::string(key.str());
      std::replace(item.name.begin(), item.name.end(), '_', '-');
      if (auto arr = node.as_array()) {
        for (auto&& v : *arr) item.inputs.push_back(ToText(v));
      } else {
        item.inputs.push_back(ToText(node));
      }
      items.push_back(std::move(item));
    }
    return items;
  }

 private:
  static std::string ToText(const toml::node& node) {
    if (auto s = node.as_string()) return s->get();
    if (auto i = node.as_integer()) return std::to_string(i->get());
    if (auto f = node.as_floating_point()) return std::to_string(f->get());
    if (auto b = node.as_boolean()) return b->get() ? "true" : "false";
    throw CLI::ConversionError("config file: unsupported value type");
  }
};

void AddFlags(CLI::App& app, ServerConfig& c) {
  app.add_option("--listen", c.listen, "HOST:PORT to serve HTTP and WebSocket on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--data-dir", c.data_dir, "Directory of the embedded store")->capture_default_str();
  app.add_option("--store", c.store,
                 "Message store: rocksdb (embedded, under --data-dir) or a PostgreSQL URL "
                 "postgres://user@host:port/db (shared by several servers)")
      ->capture_default_str();
  app.add_option("--durability", c.durability,
                 "fsync: ack after the write-ahead log is synced (group commit); os: after the OS has it")
      ->check(CLI::IsMember({"fsync", "os"}))
      ->capture_default_str();
  app.add_option("--node-id", c.node_id, "Node id 0-1023 (part of every message id)")
      ->check(CLI::Range(0, 1023))->capture_default_str();
  app.add_option("--threads", c.threads, "io threads (0: one per core)")->check(CLI::Range(0, 256))
      ->capture_default_str();
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))->capture_default_str();
  app.add_option("--web-dir", c.web_dir, "Directory of the web client's files")->capture_default_str();
  app.add_option("--token-ttl", c.token_ttl_s, "Lifetime of a login token, seconds")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--argon2-opslimit", c.argon2_opslimit, "argon2id passes for password hashes")
      ->check(CLI::Range(1, 10))->capture_default_str();
  app.add_option("--argon2-memlimit-kib", c.argon2_memlimit_kib, "argon2id memory per hash, KiB")
      ->check(CLI::Range(8, 4 * 1024 * 1024))->capture_default_str();
  app.add_option("--login-rate-per-min", c.login_rate_per_min,
                 "Login attempts per minute per user and per address")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--register-rate-per-min", c.register_rate_per_min,
                 "Registrations per minute per address")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--max-frame-bytes", c.max_frame_bytes, "Largest WebSocket frame; larger closes with 1009")
      ->check(CLI::Range(1024, 16 * 1024 * 1024))->capture_default_str();
  app.add_option("--max-text-bytes", c.max_text_bytes, "Largest message content")
      ->check(CLI::Range(1, 16 * 1024 * 1024))->capture_default_str();
  app.add_option("--max-outbound-bytes", c.max_outbound_bytes,
                 "Bytes queued to one session before it is closed with 1013 (slow consumer)")
      ->check(CLI::Range(4096, 1024 * 1024 * 1024))->capture_default_str();
  app.add_option("--max-http-body-bytes", c.max_http_body_bytes, "Largest JSON request body")
      ->check(CLI::Range(1024, 64 * 1024 * 1024))->capture_default_str();
  app.add_option("--send-rate", c.send_rate, "Messages per second per user (token bucket rate)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--send-burst", c.send_burst, "Messages a user may send at once (bucket size)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--address-send-rate", c.address_send_rate,
                 "Messages and message changes per second per address, all its users together")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--address-send-burst", c.address_send_burst,
                 "Messages an address may send at once (bucket size)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--upload-rate-per-min", c.upload_rate_per_min, "Media uploads per minute per user")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--address-upload-rate-per-min", c.address_upload_rate_per_min,
                 "Media uploads per minute per address, all its users together")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--ws-idle-timeout", c.ws_idle_timeout_s,
                 "Seconds without traffic before a WebSocket is pinged and then closed")
      ->check(CLI::Range(2, 3600))->capture_default_str();
  app.add_option("--auth-timeout", c.auth_timeout_s, "Seconds to send the auth frame")
      ->check(CLI::Range(1, 60))->capture_default_str();
  app.add_option("--max-group-members", c.max_group_members,
                 "Members of a group, creator included (full fan-out of everything)")
      ->check(CLI::Range(2, 100'000))->capture_default_str();
  app.add_option("--max-channel-members", c.max_channel_members,
                 "Members of a channel, creator included (batched fan-out, no presence/typing)")
      ->check(CLI::Range(2, 10'000'000))->capture_default_str();
  app.add_option("--sparse-fanout-min-members", c.sparse_fanout_min_members,
                 "Conversations this big fan out to their online members only, when fewer "
                 "than a quarter of them are online")
      ->check(CLI::Range(2, 10'000'000))->capture_default_str();
  app.add_option("--receipt-flush-ms", c.receipt_flush_ms,
                 "Receipts are written at most once per (user, conversation) per this interval")
      ->check(CLI::Range(10, 60'000))->capture_default_str();
  app.add_option("--receipt-fanout-limit", c.receipt_fanout_limit,
                 "Groups up to this size forward every member's receipts to the others")
      ->check(CLI::Range(0, 100'000))->capture_default_str();
  app.add_option("--typing-fanout-limit", c.typing_fanout_limit,
                 "Groups up to this size forward typing indicators")
      ->check(CLI::Range(0, 100'000))->capture_default_str();
  app.add_option("--presence-grace-ms", c.presence_grace_ms,
                 "A user whose last session closed stays online this long (quick reconnects do not flap)")
      ->check(CLI::Range(0, 600'000))->capture_default_str();
  app.add_option("--redis", c.redis,
                 "Redis for presence shared by several nodes: redis://[:password@]host[:port][/db], "
                 "comma-separated to shard over several servers (empty: presence in this process)")
      ->check([](const std::string& urls) {
        auto parsed = cluster::ParseRedisUrls(urls);
        return parsed.ok() ? std::string() : parsed.status().message();
      });
  app.add_option("--presence-ttl-ms", c.presence_ttl_ms,
                 "With --redis: a node refreshes its users every third of this; the users of a node "
                 "that stops refreshing (crashed, cut off) go offline after it")
      ->check(CLI::Range(int64_t{300}, int64_t{3'600'000}))->capture_default_str();
  app.add_option("--cluster-secret", c.cluster_secret,
                 "Cluster mode (needs --redis and --store postgres://): the secret every node of the "
                 "cluster shares; nodes present it on each other's internal port (also "
                 "PARLEY_CLUSTER_SECRET, preferred: flags show in ps)")
      ->envname("PARLEY_CLUSTER_SECRET");
  app.add_option("--internal-listen", c.internal_listen,
                 "Cluster mode: HOST:PORT of the internal port other nodes deliver to (port 0: any)")
      ->capture_default_str();
  app.add_option("--advertise-internal", c.advertise_internal,
                 "Cluster mode: HOST:PORT other nodes reach the internal port at (default: the bound "
                 "--internal-listen address)");
  app.add_option("--edit-window", c.edit_window_s, "Seconds a sender may edit a message")
      ->check(CLI::Range(int64_t{0}, int64_t{10} * 365 * 24 * 3600))->capture_default_str();
  app.add_option("--delete-window", c.delete_window_s,
                 "Seconds a sender may delete a message for everyone (group admins: any time)")
      ->check(CLI::Range(int64_t{0}, int64_t{10} * 365 * 24 * 3600))->capture_default_str();
  app.add_option("--reaction-flush-ms", c.reaction_flush_ms,
                 "Channels: reactions reach members as one aggregated event per message this often")
      ->check(CLI::Range(10, 600'000))->capture_default_str();
  app.add_option("--retention-days", c.retention_days,
                 "Delete messages older than this many days (0: keep forever)")
      ->check(CLI::Range(0, 100'000))->capture_default_str();
  app.add_option("--retention-interval", c.retention_interval_s,
                 "Seconds between passes of the background retention job")
      ->check(CLI::Range(1, 86'400))->capture_default_str();
  app.add_option("--retention-batch", c.retention_batch,
                 "Entries deleted per retention purge (one range delete each)")
      ->check(CLI::Range(1, 100'000))->capture_default_str();
  app.add_option("--max-media-bytes", c.max_media_bytes,
                 "Largest media upload; a larger one is refused with 413")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))->capture_default_str();
  app.add_option("--media-types", c.media_types,
                 "Content types accepted for upload, comma-separated; type/* allows a family "
                 "(default: image/png,image/jpeg,image/gif,image/webp,audio/*,video/*,"
                 "application/pdf,application/zip,text/plain,application/octet-stream)")
      ->delimiter(',');
  app.add_option("--media-gc-age", c.media_gc_age_s,
                 "Seconds after which an upload no message carries is deleted")
      ->check(CLI::Range(int64_t{1}, int64_t{10} * 365 * 24 * 3600))->capture_default_str();
  app.add_option("--media-gc-interval", c.media_gc_interval_s,
                 "Seconds between two garbage collections of unreferenced uploads")
      ->check(CLI::Range(int64_t{1}, int64_t{7} * 24 * 3600))->capture_default_str();
  app.add_option("--media-threads", c.media_threads,
                 "Threads for media file I/O, hashing and thumbnails")
      ->check(CLI::Range(1, 64))->capture_default_str();
}

// Push notifications (src/push, docs/operations.md).
void AddPushFlags(CLI::App& app, push::PushOptions& p) {
  app.add_option("--push-coalesce-ms", p.coalesce_ms,
                 "Messages to one device and conversation within this window make one push")
      ->check(CLI::Range(0, 3'600'000))->capture_default_str();
  app.add_option("--push-preview", p.preview, "What a push reveals: none, sender or full (content)")
      ->transform(CLI::CheckedTransformer(std::map<std::string, push::Preview>{
          {"none", push::Preview::kNone}, {"sender", push::Preview::kSender},
          {"full", push::Preview::kFull}}))
      ->default_str("sender");
  app.add_flag("--push-allow-private-urls", p.allow_private_urls,
               "Allow webhook URLs on loopback/private addresses (off: refused with 400)");
  app.add_option("--push-concurrency", p.concurrency, "Provider requests in flight at once")
      ->check(CLI::Range(1, 256))->capture_default_str();
  app.add_option("--push-max-attempts", p.max_attempts, "Attempts per push before it is dropped")
      ->check(CLI::Range(1, 100))->capture_default_str();
  app.add_option("--push-backoff-base-ms", p.backoff_base_ms,
                 "Retry n waits a random time up to min(max, base * 2^n) (full jitter)")
      ->check(CLI::Range(1, 3'600'000))->capture_default_str();
  app.add_option("--push-backoff-max-ms", p.backoff_max_ms, "Longest wait between two attempts")
      ->check(CLI::Range(1, 86'400'000))->capture_default_str();
  app.add_option("--push-timeout-ms", p.request_timeout_ms, "Timeout of one provider request")
      ->check(CLI::Range(100, 600'000))->capture_default_str();
  app.add_option("--push-ca-file", p.ca_file, "CA bundle (PEM) for provider TLS, instead of the system CAs");
  app.add_option("--push-webhook-secret", p.webhook.secret,
                 "HMAC-SHA256 key of X-Parley-Signature; set to enable webhook devices");
  app.add_option("--push-fcm-credentials", p.fcm.credentials_file,
                 "FCM service-account JSON key file; set to enable fcm devices");
  app.add_option("--push-fcm-project", p.fcm.project_id, "FCM project id (default: the key's)");
  app.add_option("--push-fcm-endpoint", p.fcm.endpoint, "FCM HTTP v1 base URL")
      ->capture_default_str();
  app.add_option("--push-fcm-token-url", p.fcm.token_url,
                 "OAuth2 token URL (default: the key's token_uri)");
  app.add_option("--push-apns-key-file", p.apns.key_file,
                 "APNs .p8 signing key (EC P-256); set to enable apns devices");
  app.add_option("--push-apns-key-id", p.apns.key_id, "APNs key id (JWT kid)");
  app.add_option("--push-apns-team-id", p.apns.team_id, "Apple team id (JWT iss)");
  app.add_option("--push-apns-topic", p.apns.topic, "apns-topic: the app's bundle id");
  app.add_option("--push-apns-endpoint", p.apns.endpoint,
                 "APNs base URL (sandbox: https://api.sandbox.push.apple.com)")
      ->capture_default_str();
}

// The connection layer (src/gateway, docs/security.md). The last of repeated
// flags wins, so that a wrapper's defaults can be overridden after them.
void AddTransportFlags(CLI::App& app, TransportConfig& t) {
  auto last = [](CLI::Option* o) { return o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast); };
  last(app.add_option("--tls-cert", t.tls_cert,
                      "PEM certificate chain; with --tls-key, serve https and wss only (TLS 1.2+)"));
  last(app.add_option("--tls-key", t.tls_key, "PEM private key of --tls-cert"));
  last(app.add_option("--http-header-timeout", t.http_header_timeout_s,
                      "Seconds for the TLS handshake and for each request's headers (also the "
                      "idle time of a keep-alive connection)")
           ->check(CLI::Range(1, 600))->capture_default_str());
  last(app.add_option("--http-body-timeout", t.http_body_timeout_s,
                      "Seconds for a request body (each 64 KiB of an upload) and for each "
                      "64 KiB of a response")
           ->check(CLI::Range(1, 3600))->capture_default_str());
  last(app.add_option("--max-connections", t.max_connections,
                      "Open connections (HTTP and WebSocket); more are closed unanswered")
           ->check(CLI::Range(size_t{1}, size_t{10'000'000}))->capture_default_str());
  last(app.add_option("--max-handshakes", t.max_handshakes,
                      "Connections still opening (TLS handshake, first request, WebSocket auth) "
                      "at once; more get 503 with Retry-After")
           ->check(CLI::Range(size_t{1}, size_t{1'000'000}))->capture_default_str());
  last(app.add_option("--handshake-rate-per-address", t.handshake_rate_per_address,
                      "New connections and WebSocket upgrades per second per client address "
                      "(token bucket; more get 429 with Retry-After; 0: no limit)")
           ->check(CLI::NonNegativeNumber)->capture_default_str());
  last(app.add_option("--handshake-burst-per-address", t.handshake_burst_per_address,
                      "New connections one address may open at once (bucket size)")
           ->check(CLI::Range(1.0, 1e9))->capture_default_str());
  last(app.add_option("--max-sessions-per-user", t.max_sessions_per_user,
                      "WebSocket sessions per user on this node; one more gets an error frame "
                      "and close 1008 (0: no cap)")
           ->capture_default_str());
  app.add_option("--allowed-origins", t.allowed_origins,
                 "Browser origins allowed cross-origin, comma-separated "
                 "(https://app.example.com; * for any). Same-origin pages and clients "
                 "without Origin always pass; others get 403")
      ->delimiter(',');
}

}  // namespace

Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return BadRequest("expected HOST:PORT, got \"" + listen + "\"");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  std::string_view p(listen.data() + colon + 1, listen.size() - colon - 1);
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (ec != std::errc() || end != p.data() + p.size() || port > 65535) {
    return BadRequest("the port of \"" + listen + "\" must be 0-65535");
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

Result<ParsedConfig> ParseConfig(int argc, const char* const* argv) {
  ParsedConfig out;
  out.config.web_dir = PARLEY_DEFAULT_WEB_DIR;
  CLI::App app{"parley-server: a real-time chat server"};
  app.config_formatter(std::make_shared<TomlConfig>());
  app.set_config("--config", "", "TOML file with any of these options (flags win)");
  AddFlags(app, out.config);
  AddPushFlags(app, out.config.push);
  AddTransportFlags(app, out.config.transport);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::cout << app.help();
    out.exit_now = true;
    return out;
  } catch (const CLI::ParseError& e) {
    return BadRequest(e.what());
  }
  const std::string& store = out.config.store;
  if (store != "rocksdb" && !store.starts_with("postgres://") &&
      !store.starts_with("postgresql://")) {
    return BadRequest("--store: rocksdb or a postgres:// URL");
  }
  if (auto hp = SplitHostPort(out.config.listen); !hp.ok()) return hp.status();
  if (out.config.transport.tls_cert.empty() != out.config.transport.tls_key.empty()) {
    return BadRequest("--tls-cert and --tls-key go together");
  }
  if (!out.config.cluster_secret.empty()) {
    if (out.config.redis.empty() || store == "rocksdb") {
      return BadRequest("--cluster-secret (cluster mode) needs --redis and --store postgres://");
    }
    if (out.config.cluster_secret.size() < 16) {
      return BadRequest("--cluster-secret must be at least 16 characters");
    }
    if (auto hp = SplitHostPort(out.config.internal_listen); !hp.ok()) return hp.status();
    if (!out.config.advertise_internal.empty()) {
      if (auto hp = SplitHostPort(out.config.advertise_internal); !hp.ok()) return hp.status();
    }
  }
  if (out.config.push.backoff_base_ms > out.config.push.backoff_max_ms) {
    return BadRequest("--push-backoff-base-ms must not exceed --push-backoff-max-ms");
  }
  return out;
}

}  // namespace parley::app
