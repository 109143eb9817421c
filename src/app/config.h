// Server configuration: command-line flags, optionally read from a TOML file
// (--config), flags winning over the file. Every field has a --help line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "push/push_options.h"

namespace parley::app {

// The connection layer's flags (TLS, slowloris timeouts, admission control,
// the Origin allow-list); defaults match gateway::GatewayOptions.
struct TransportConfig {
  std::string tls_cert;
  std::string tls_key;
  int http_header_timeout_s = 10;
  int http_body_timeout_s = 30;
  size_t max_connections = 100'000;
  size_t max_handshakes = 1'000;
  double handshake_rate_per_address = 20;
  double handshake_burst_per_address = 100;
  size_t max_sessions_per_user = 100;
  std::vector<std::string> allowed_origins;
};

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./data";
  std::string store = "rocksdb";
  std::string durability = "fsync";
  int node_id = 1;
  int threads = 0;  // 0: one per core
  std::string log_level = "info";
  std::string web_dir;  // default: the web/ folder of the source tree
  int64_t token_ttl_s = 30LL * 24 * 3600;
  uint64_t argon2_opslimit = 2;
  uint64_t argon2_memlimit_kib = 64 * 1024;
  double login_rate_per_min = 30;
  double register_rate_per_min = 20;
  size_t max_frame_bytes = 64 * 1024;
  size_t max_text_bytes = 16 * 1024;
  size_t max_outbound_bytes = 4 * 1024 * 1024;
  size_t max_http_body_bytes = 1024 * 1024;
  double send_rate = 100;
  double send_burst = 200;
  double address_send_rate = 1000;
  double address_send_burst = 2000;
  double upload_rate_per_min = 120;
  double address_upload_rate_per_min = 1200;
  int ws_idle_timeout_s = 60;
  int auth_timeout_s = 5;
  uint32_t max_group_members = 500;
  uint32_t max_channel_members = 100'000;
  int64_t receipt_flush_ms = 250;
  size_t receipt_fanout_limit = 500;
  size_t sparse_fanout_min_members = 1000;
  size_t typing_fanout_limit = 50;
  int64_t presence_grace_ms = 5000;
  std::string redis;              // comma-separated redis:// URLs; empty: in-process presence
  int64_t presence_ttl_ms = 30'000;  // with Redis: a crashed node's users go offline within this
  // Cluster mode (with --redis and a postgres store): nodes deliver to each
  // other over their internal ports, authenticated with the shared secret.
  std::string cluster_secret;
  std::string internal_listen = "127.0.0.1:0";
  std::string advertise_internal;  // empty: the bound internal address
  int64_t edit_window_s = 48LL * 3600;
  int64_t delete_window_s = 48LL * 3600;
  int64_t reaction_flush_ms = 1000;
  int64_t retention_days = 0;  // 0: keep forever
  int64_t retention_interval_s = 60;
  size_t retention_batch = 1000;
  push::PushOptions push;  // --push-* flags
  uint64_t max_media_bytes = 100ULL * 1024 * 1024;
  std::vector<std::string> media_types;  // empty: the media component's default list
  int64_t media_gc_age_s = 24 * 3600;
  int64_t media_gc_interval_s = 3600;
  size_t media_threads = 2;
  TransportConfig transport;  // --tls-*, timeouts, admission, origins
};

struct ParsedConfig {
  ServerConfig config;
  bool exit_now = false;  // --help or --version was answered
  int exit_code = 0;
};

// Parses argv (and the TOML file it names). Errors are BadRequest with the
// message to print.
Result<ParsedConfig> ParseConfig(int argc, const char* const* argv);

// "host:port" split, port 0-65535.
Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& listen);

}  // namespace parley::app
