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
#include "chat/groups.h"
#include "chat/lifecycle.h"
#include "chat/retention.h"
#include "chat/receipts.h"
#include "chat/typing.h"
#include "cluster/internal_service.h"
#include "cluster/node_links.h"
#include "cluster/node_registry.h"
#include "cluster/node_router.h"
#include "common/scheduler.h"
#include "presence/local_presence.h"
#include "presence/redis_presence.h"
#include "push/push.h"
#include "common/logging.h"
#include "directory/session_directory.h"
#include "gateway/gateway.h"
#include "media/media_service.h"
#include "store/postgres/postgres_store.h"
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

// last_seen is written once per offline transition and read when shown.
presence::PresenceHooks PresenceHooks(store::Store& store, chat::Relations& relations) {
  presence::PresenceHooks hooks;
  hooks.store_last_seen = [&store](const std::string& user_id, int64_t last_seen) {
    auto user = store.GetUser(user_id);
    if (!user.ok()) return;
    user->last_seen = last_seen;
    if (Status s = store.UpdateUser(*user); !s.ok()) {
      spdlog::warn("event=last_seen_write_failed user={} error=\"{}\"", user_id, s.ToString());
    }
  };
  hooks.load_last_seen = [&store](const std::string& user_id) -> int64_t {
    auto user = store.GetUser(user_id);
    return user.ok() && user->show_last_seen ? user->last_seen : 0;
  };
  hooks.visible_to = [&relations](const std::string& user, const std::string& watcher) {
    return !relations.Blocks(user, watcher);
  };
  return hooks;
}

// Cluster mode: the internal port, this node's entry in the registry, and the
// links and router that carry frames to the other nodes.
struct ClusterNode {
  // The internal gateway's own series (connections of node links) would
  // repeat the public gateway's names in /metrics; the cluster_* counters
  // cover the links instead.
  MetricsRegistry internal_metrics;
  std::unique_ptr<cluster::InternalService> service;
  std::unique_ptr<gateway::Gateway> internal;
  std::unique_ptr<cluster::NodeRegistry> registry;
  std::unique_ptr<cluster::NodeLinks> links;
  std::unique_ptr<cluster::NodeRouter> router;

  void Stop() {
    if (router) router->Stop();
    if (links) links->Stop();
    if (registry) registry->Stop();
    if (internal) internal->StopAccepting();
  }
};

Status StartClusterNode(const ServerConfig& c, const std::string& node_name, const Clock& clock,
                        MetricsRegistry& metrics, chat::ChatService& chat,
                        presence::RedisPresence& presence, directory::LocalDirectory& directory,
                        ClusterNode& node) {
  node.service = std::make_unique<cluster::InternalService>(
      node_name, c.cluster_secret, [&chat](directory::RemoteFrame f) { chat.DeliverForwarded(std::move(f)); },
      metrics, c.max_frame_bytes);
  auto [host, port] = SplitHostPort(c.internal_listen).value();
  node.internal = std::make_unique<gateway::Gateway>(
      gateway::GatewayOptions{.host = host,
                              .port = port,
                              .threads = 1,
                              .max_frame_bytes = 8 << 20,  // batches of items
                              .max_outbound_bytes = 1 << 20,
                              .node_name = node_name},
      *node.service, node.internal_metrics, clock);
  auto bound = node.internal->Start();
  if (!bound.ok()) return bound.status();
  std::string advertised = c.advertise_internal.empty() ? *bound : c.advertise_internal;
  node.registry = std::make_unique<cluster::NodeRegistry>(
      cluster::ParseRedisUrls(c.redis).value(), clock,
      cluster::NodeRegistryOptions{.node_id = node_name,
                                   .internal_address = advertised,
                                   .ttl_ms = c.presence_ttl_ms});
  PARLEY_RETURN_IF_ERROR(node.registry->Register());
  node.registry->Start();
  node.links = std::make_unique<cluster::NodeLinks>(
      [registry = node.registry.get()](const std::string& id) { return registry->AddressOf(id); },
      metrics, cluster::NodeLinksOptions{.secret = c.cluster_secret});
  node.router = std::make_unique<cluster::NodeRouter>(
      node_name, [&presence](const std::vector<std::string>& users) { return presence.NodesOf(users); },
      *node.links, metrics);
  directory.SetRemote(node.router.get());
  spdlog::info("event=cluster_node_ready node={} internal={} advertised={}", node_name, *bound,
               advertised);
  return Status::Ok();
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
  store::StoreOptions store_options{.sync_writes = c.durability == "fsync", .metrics = &metrics};
  const bool postgres = store::IsPostgresUrl(c.store);
  if (!postgres) std::filesystem::create_directories(c.data_dir + "/store", ec);
  auto store = postgres ? store::OpenPostgresStore(c.store, store_options)
                        : store::OpenRocksDbStore(c.data_dir + "/store", store_options);
  if (!store.ok()) {
    spdlog::critical("event=store_open_failed error=\"{}\"", store.status().ToString());
    return 1;
  }
  auto media = media::MediaService::Open(**store, clock, metrics,
                                         {.dir = c.data_dir + "/media",
                                          .max_bytes = c.max_media_bytes,
                                          .allowed_types = c.media_types,
                                          .gc_age_ms = c.media_gc_age_s * 1000,
                                          .gc_interval_ms = c.media_gc_interval_s * 1000,
                                          .threads = c.media_threads});
  if (!media.ok()) {
    spdlog::critical("event=media_open_failed error=\"{}\"", media.status().ToString());
    return 1;
  }
  Snowflake ids(clock, c.node_id);
  TimerThread timers;
  directory::LocalDirectory directory;
  chat::Relations relations(**store);
  auth::AuthService auth(**store, clock,
                         {.token_ttl_ms = c.token_ttl_s * 1000,
                          .argon2_opslimit = c.argon2_opslimit,
                          .argon2_memlimit_bytes = c.argon2_memlimit_kib * 1024,
                          .login_rate_per_min = c.login_rate_per_min,
                          .register_rate_per_min = c.register_rate_per_min,
                          .metrics = &metrics});
  const bool clustered = !c.cluster_secret.empty();
  if (clustered) relations.ReadBlocksThrough();
  chat::ChatService chat(**store, directory, relations, clock, ids, metrics,
                         {.send_rate = c.send_rate,
                          .send_burst = c.send_burst,
                          .receipt_fanout_limit = c.receipt_fanout_limit,
                          .sparse_fanout_min_members = c.sparse_fanout_min_members,
                          .push_outbox = push::AnyProviderConfigured(c.push),
                          .shared_store = clustered});
  chat::GroupService groups(**store, chat, relations, clock, ids,
                            {.max_group_members = c.max_group_members,
                             .max_channel_members = c.max_channel_members});
  chat::ReceiptService receipts(**store, directory, relations, clock, metrics,
                                {.flush_ms = c.receipt_flush_ms,
                                 .fanout_limit = c.receipt_fanout_limit});
  receipts.SetCommitHook([&chat](const std::string& conversation_id, uint64_t version) {
    chat.NoteCommitted(conversation_id, version);
  });
  chat.AddStoredHook([&receipts](const store::EntryRecord& e, store::ConversationKind kind) {
    receipts.MessageStored(e, kind);
  });
  chat.SetMediaAccess([&m = **media](const std::string& user, const std::string& media_id)
                           -> Result<chat::ChatService::MediaInfo> {
    auto readable = m.Readable(user, media_id);
    if (!readable.ok()) return readable.status();
    return chat::ChatService::MediaInfo{readable->width, readable->height};
  });
  (*media)->ScheduleGc(timers);
  auto run_blocking = [&chat](std::function<void()> task) { chat.RunBlocking(std::move(task)); };
  chat::TypingService typing(**store, directory, relations, clock, timers, run_blocking, metrics,
                             {.fanout_limit = c.typing_fanout_limit});
  std::unique_ptr<presence::Presence> presence_owner;
  presence::RedisPresence* redis_presence = nullptr;
  std::string node_name = "node-" + std::to_string(c.node_id);
  if (c.redis.empty()) {
    presence_owner = std::make_unique<presence::LocalPresence>(
        clock, timers, run_blocking, PresenceHooks(**store, relations), c.presence_grace_ms, metrics);
  } else {
    auto shards = cluster::ParseRedisUrls(c.redis).value();  // checked by the config
    auto redis = std::make_unique<presence::RedisPresence>(
        clock, timers, PresenceHooks(**store, relations), metrics, std::move(shards),
        presence::RedisPresenceOptions{.node_id = node_name,
                                       .grace_ms = c.presence_grace_ms,
                                       .ttl_ms = c.presence_ttl_ms});
    redis_presence = redis.get();
    redis->Start();
    presence_owner = std::move(redis);
  }
  presence::Presence& presence = *presence_owner;
  ClusterNode cluster_node;
  if (clustered) {
    if (Status s = StartClusterNode(c, node_name, clock, metrics, chat, *redis_presence, directory,
                                    cluster_node);
        !s.ok()) {
      spdlog::critical("event=cluster_start_failed error=\"{}\"", s.ToString());
      return 1;
    }
  }
  chat::LifecycleService lifecycle(**store, chat, directory, clock, timers,
                                   {.edit_window_ms = c.edit_window_s * 1000,
                                    .delete_window_ms = c.delete_window_s * 1000,
                                    .reaction_flush_ms = c.reaction_flush_ms});
  chat::RetentionJob retention(**store, chat, clock, metrics,
                               {.retention_days = c.retention_days,
                                .interval_ms = c.retention_interval_s * 1000,
                                .batch = c.retention_batch});
  push::PushOptions push_options = c.push;
  push_options.presence_grace_ms = c.presence_grace_ms;
  auto push_service = push::PushService::Create(
      {**store, directory, presence, timers, clock, metrics}, push_options);
  if (!push_service.ok()) {
    spdlog::critical("event=push_setup_failed error=\"{}\"", push_service.status().ToString());
    return 1;
  }
  push::PushService& pusher = **push_service;
  if (Status s = pusher.Start(); !s.ok()) {  // resumes what a previous run left unsent
    spdlog::critical("event=push_recovery_failed error=\"{}\"", s.ToString());
    return 1;
  }
  if (pusher.enabled()) {
    chat.AddStoredHook([&pusher](const store::EntryRecord& e, store::ConversationKind kind) {
      pusher.OnStored(e, kind);
    });
  }
  lifecycle.SetTimerHook([&retention](const std::string& id) { retention.Watch(id); });
  retention.Start();
  protocol::Limits limits;
  limits.max_text_bytes = c.max_text_bytes;
  api::ApiService api({auth, chat, groups, receipts, typing, relations, presence, directory, **store,
                       metrics, clock, timers, pusher, lifecycle, media->get()},
                      {.limits = limits,
                       .web_dir = c.web_dir,
                       .node_name = node_name,
                       .abuse = {.address_send_rate = c.address_send_rate,
                                 .address_send_burst = c.address_send_burst,
                                 .upload_rate_per_min = c.upload_rate_per_min,
                                 .address_upload_rate_per_min = c.address_upload_rate_per_min}});
  auto [host, port] = SplitHostPort(c.listen).value();
  const TransportConfig& t = c.transport;
  gateway::Gateway gateway({.host = host,
                            .port = port,
                            .threads = IoThreads(c),
                            .max_frame_bytes = c.max_frame_bytes,
                            .max_outbound_bytes = c.max_outbound_bytes,
                            .max_http_body_bytes = c.max_http_body_bytes,
                            .ws_idle_timeout_s = c.ws_idle_timeout_s,
                            .auth_timeout_s = c.auth_timeout_s,
                            .http_header_timeout_s = t.http_header_timeout_s,
                            .http_body_timeout_s = t.http_body_timeout_s,
                            .tls_cert_file = t.tls_cert,
                            .tls_key_file = t.tls_key,
                            .admission = {.max_connections = t.max_connections,
                                          .max_handshakes = t.max_handshakes,
                                          .handshake_rate_per_address = t.handshake_rate_per_address,
                                          .handshake_burst_per_address = t.handshake_burst_per_address,
                                          .max_sessions_per_user = t.max_sessions_per_user},
                            .allowed_origins = t.allowed_origins,
                            .node_name = node_name},
                           api, metrics, clock);
  auto bound = gateway.Start();
  if (!bound.ok()) {
    spdlog::critical("event=gateway_start_failed error=\"{}\"", bound.status().ToString());
    return 1;
  }
  spdlog::info(
      "event=listening address={} scheme={} node={} store={} data_dir={} durability={} "
      "presence={} cluster={}",
      *bound, t.tls_cert.empty() ? "http" : "https", node_name, postgres ? "postgres" : "rocksdb",
      c.data_dir, c.durability, c.redis.empty() ? "local" : "redis", clustered);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("event=shutting_down signal={}", signal_number);
  gateway.StopAccepting();  // sockets closed with 1001
  if (redis_presence != nullptr) redis_presence->Stop();  // our users leave Redis now, not at TTL
  retention.Stop();         // after the purge in progress
  lifecycle.Stop();         // pending channel reaction counts appended
  receipts.Stop();          // pending watermarks written
  pusher.Stop();            // unsent pushes stay persisted (jobs, outbox) for the next start
  timers.Stop();
  (*media)->Shutdown();     // uploads in progress finish (they write to the store)
  (*store)->Close();        // pending appends committed, their callbacks run
  chat.Shutdown();
  cluster_node.Stop();      // after the last fan-outs: what they forwarded goes out first
  api.Shutdown();
  gateway.Stop();
  if (cluster_node.internal) cluster_node.internal->Stop();
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
