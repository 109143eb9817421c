// parley-server: wires the components from the configuration, serves until
// SIGTERM/SIGINT, then shuts down cleanly (stop accepting, close sessions with
// 1001, commit what is pending, stop the threads) and exits 0.
#include <signal.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "api/api_service.h"
#include "app/config.h"
#include "auth/auth_service.h"
#include "chat/chat_service.h"
#include "common/logging.h"
#include "directory/session_directory.h"
#include "gateway/gateway.h"
#include "store/rocksdb/rocksdb_store.h"

namespace parley::app {
namespace {

sigset_t BlockShutdownSignals() {
  // Blocked before any thread starts, so only sigwait below receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

size_t IoThreads(const ServerConfig& c) {
  if (c.threads > 0) return static_cast<size_t>(c.threads);
  return std::max(1u, std::thread::hardware_concurrency());
}

int Serve(const ServerConfig& c) {
  sigset_t signals = BlockShutdownSignals();
  SystemClock clock;
  MetricsRegistry metrics;
  std::error_code ec;
  std::filesystem::create_directories(c.data_dir + "/store", ec);
  auto store = store::OpenRocksDbStore(c.data_dir + "/store",
                                       {.sync_writes = c.durability == "fsync", .metrics = &metrics});
  if (!store.ok()) {
    spdlog::critical("event=store_open_failed error=\"{}\"", store.status().ToString());
    return 1;
  }
  Snowflake ids(clock, c.node_id);
  directory::LocalDirectory directory;
  auth::AuthService auth(**store, clock,
                         {.token_ttl_ms = c.token_ttl_s * 1000,
                          .argon2_opslimit = c.argon2_opslimit,
                          .argon2_memlimit_bytes = c.argon2_memlimit_kib * 1024,
                          .login_rate_per_min = c.login_rate_per_min});
  chat::ChatService chat(**store, directory, clock, ids, metrics,
                         {.send_rate = c.send_rate, .send_burst = c.send_burst});
  chat::GroupService groups(**store, chat, clock, ids,
                           {.max_group_members = c.max_group_members,
                            .max_channel_members = c.max_channel_members});
  std::string node_name = "node-" + std::to_string(c.node_id);
  protocol::Limits limits;
  limits.max_text_bytes = c.max_text_bytes;
  api::ApiService api(auth, chat, groups, directory, **store, metrics, clock,
                      {.limits = limits, .web_dir = c.web_dir, .node_name = node_name});
  auto [host, port] = SplitHostPort(c.listen).value();
  gateway::Gateway gateway({.host = host,
                            .port = port,
                            .threads = IoThreads(c),
                            .max_frame_bytes = c.max_frame_bytes,
                            .max_outbound_bytes = c.max_outbound_bytes,
                            .max_http_body_bytes = c.max_http_body_bytes,
                            .ws_idle_timeout_s = c.ws_idle_timeout_s,
                            .auth_timeout_s = c.auth_timeout_s,
                            .node_name = node_name},
                           api, metrics);
  api.SetScheduler(&gateway);
  auto bound = gateway.Start();
  if (!bound.ok()) {
    spdlog::critical("event=listen_failed error=\"{}\"", bound.status().ToString());
    return 1;
  }
  spdlog::info("event=listening address={} node={} store=rocksdb data_dir={} durability={}", *bound,
               node_name, c.data_dir, c.durability);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("event=shutting_down signal={}", signal_number);
  gateway.StopAccepting();  // sockets closed with 1001
  (*store)->Close();        // pending appends committed, their callbacks run
  chat.Shutdown();
  api.Shutdown();
  gateway.Stop();
  spdlog::info("event=stopped");
  return 0;
}

}  // namespace
}  // namespace parley::app

int main(int argc, char** argv) {
  auto parsed = parley::app::ParseConfig(argc, argv);
  if (!parsed.ok()) {
    std::cerr << "parley-server: " << parsed.status().message() << "\n";
    return 2;
  }
  if (parsed->exit_now) return parsed->exit_code;
  parley::InitLogging(parsed->config.log_level);
  return parley::app::Serve(parsed->config);
}
