// The Service the gateway calls: HTTP routes and WebSocket frames translated
// into calls on auth and chat, and their results into responses and frames.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "api/client_session.h"
#include "api/router.h"
#include "auth/auth_service.h"
#include "chat/chat_service.h"
#include "chat/groups.h"
#include "chat/lifecycle.h"
#include "chat/receipts.h"
#include "chat/relations.h"
#include "chat/typing.h"
#include "presence/presence.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/rate_limiter.h"
#include "common/worker_pool.h"
#include "directory/session_directory.h"
#include "common/scheduler.h"
#include "gateway/service.h"
#include "media/media_service.h"
#include "protocol/frames.h"
#include "push/push.h"
#include "store/store.h"

namespace parley::api {

// Per-address buckets of the actions a user's own bucket does not cover
// (many accounts behind one address), and uploads per user and per address.
// Logins and registrations are limited in auth, sends per user in chat.
struct AbuseLimits {
  double address_send_rate = 1000;  // sends and message changes per second
  double address_send_burst = 2000;
  double upload_rate_per_min = 120;  // per user
  double address_upload_rate_per_min = 1200;
};

struct ApiOptions {
  protocol::Limits limits;
  std::string web_dir;       // static files of the web client
  std::string node_name;
  int max_long_poll_s = 60;
  size_t max_presence_subscriptions = 1000;  // per session
  int64_t initial_hold_ms = 2000;  // live frames wait this long for the client's first sync
  size_t auth_threads = 2;   // argon2id hashing is CPU- and memory-heavy
  AbuseLimits abuse;
};

// The components the api translates to.
struct ApiDeps {
  auth::AuthService& auth;
  chat::ChatService& chat;
  chat::GroupService& groups;
  chat::ReceiptService& receipts;
  chat::TypingService& typing;
  chat::Relations& relations;
  presence::Presence& presence;
  directory::SessionDirectory& directory;
  store::Store& store;
  MetricsRegistry& metrics;
  const Clock& clock;
  Scheduler& scheduler;
  push::PushService& push;
  chat::LifecycleService& lifecycle;
  media::MediaService* media = nullptr;  // null: no media routes
};

// What a route handler gets.
struct HttpCall {
  gateway::HttpRequest request;
  PathParams params;
  gateway::HttpResponder respond;
  std::string user_id;  // set for authenticated routes
};

class ApiService final : public gateway::Service {
 public:
  ApiService(ApiDeps deps, ApiOptions options);
  ~ApiService() override;

  void Shutdown();

  void HandleHttp(gateway::HttpRequest request, gateway::HttpResponder respond) override;
  void Authenticate(std::string token,
                    std::function<void(Result<gateway::Identity>)> done) override;
  void OnOpen(const gateway::PeerPtr& peer) override;
  void OnFrame(const gateway::PeerPtr& peer, std::string text) override;
  void OnClose(const gateway::PeerPtr& peer) override;
  std::optional<uint64_t> StreamedBodyLimit(const gateway::HttpRequest& head) override;

 private:
  using Handler = std::function<void(HttpCall)>;
  void AddRoutes();
  void Public(std::string method, std::string_view pattern, Handler h);
  void Authed(std::string method, std::string_view pattern, Handler h);

  // HTTP routes (http_routes.cc).
  // Closes every WebSocket session and long-poll opened with `credential`
  // (a revoked token); they are indexed by it while open.
  void CloseSessionsOf(const std::string& credential);
  void IndexCredential(const std::string& credential, const std::shared_ptr<gateway::Peer>& peer);
  void UnindexCredential(const std::string& credential, const gateway::Peer* peer);
  // The per-address bucket of sends and message changes.
  Status AdmitAddressSend(std::string_view address);
  void PostUsers(HttpCall call);
  void PostSessions(HttpCall call);
  void DeleteSessions(HttpCall call);
  void PostMessages(HttpCall call);
  void GetConversations(HttpCall call);
  void GetMessages(HttpCall call);
  void GetSync(HttpCall call);
  void RecheckLongPoll(std::shared_ptr<gateway::Peer> waiter, std::string user,
                       std::string cursor);
  void LongPoll(std::shared_ptr<HttpCall> call, std::string cursor, int64_t deadline_ms);
  void GetReady(HttpCall call);
  // Groups and channels (group_routes.cc).
  void PostGroups(HttpCall call);
  void GetGroup(HttpCall call);
  void PatchGroup(HttpCall call);
  void PutMemberRole(HttpCall call);
  void PostMember(HttpCall call);
  void DeleteMember(HttpCall call);
  // The message lifecycle (lifecycle_routes.cc).
  void PostMessageChange(HttpCall call, std::string_view op);
  // Receipts, presence, blocks and settings over HTTP (me_routes.cc).
  void PostReceipts(HttpCall call);
  void GetPresence(HttpCall call);
  void PutBlock(HttpCall call);
  void DeleteBlock(HttpCall call);
  void GetBlocks(HttpCall call);
  void GetSettings(HttpCall call);
  void PutSettings(HttpCall call);
  // Push devices (push_routes.cc).
  void PostDevice(HttpCall call);
  void GetDevices(HttpCall call);
  void DeleteDevice(HttpCall call);
  // Per-conversation settings: muted (push), disappear_after_s (conversation_settings.cc).
  void GetConversationSettings(HttpCall call);
  void PutConversationSettings(HttpCall call);
  void SetDisappearAfter(HttpCall call, int64_t seconds,
                         std::function<void(HttpCall call, uint64_t seq)> then);
  void RespondConversationSettings(const HttpCall& call, uint64_t seq = 0);
  // The presence of `users` if `viewer` may see every one of them.
  // The normalized ids, if the viewer may see the presence of every one of them.
  Result<std::vector<std::string>> PresenceVisibleUsers(const std::string& viewer,
                                                        const std::vector<std::string>& users);
  Result<std::vector<presence::PresenceState>> VisiblePresence(const std::string& viewer,
                                                               const std::vector<std::string>& users);
  void GetStatic(HttpCall call);
  // Media (media_routes.cc).
  void PostMedia(HttpCall call);
  void PumpUpload(std::shared_ptr<media::Upload> upload, std::shared_ptr<gateway::BodyReader> reader,
                  gateway::HttpResponder respond);
  void GetMediaFile(HttpCall call, bool thumbnail);

  // WebSocket frames (ws_frames.cc).
  std::shared_ptr<ClientSession> SessionOf(const gateway::PeerPtr& peer);
  void OnSend(const std::shared_ptr<ClientSession>& s, std::string id, protocol::SendFrame f);
  void OnSync(const std::shared_ptr<ClientSession>& s, std::string id, protocol::SyncFrame f);
  void OnHistory(const std::shared_ptr<ClientSession>& s, std::string id, protocol::HistoryFrame f);
  // Replies the ack (or the error) of a send or a message change to the session.
  static chat::AckCallback AckTo(const std::shared_ptr<ClientSession>& s, std::string id);
  void OnLifecycle(const std::shared_ptr<ClientSession>& s, std::string id, protocol::EditFrame f);
  void OnLifecycle(const std::shared_ptr<ClientSession>& s, std::string id,
                   protocol::DeleteFrame f);
  void OnLifecycle(const std::shared_ptr<ClientSession>& s, std::string id, protocol::ReactFrame f);
  // Receipts, typing and presence (realtime.cc).
  void OnRealtime(const std::shared_ptr<ClientSession>& s, std::string id, protocol::ReceiptFrame f);
  void OnRealtime(const std::shared_ptr<ClientSession>& s, std::string id, protocol::TypingFrame f);
  void OnRealtime(const std::shared_ptr<ClientSession>& s, std::string id, protocol::PresenceFrame f);

  auth::AuthService& auth_;
  chat::ChatService& chat_;
  chat::GroupService& groups_;
  chat::LifecycleService& lifecycle_;
  chat::ReceiptService& receipts_;
  chat::TypingService& typing_;
  chat::Relations& relations_;
  presence::Presence& presence_;
  directory::SessionDirectory& directory_;
  store::Store& store_;
  MetricsRegistry& metrics_;
  const Clock& clock_;
  Scheduler& scheduler_;
  push::PushService& push_;
  media::MediaService* const media_;
  const ApiOptions options_;
  Router<Handler> router_;
  Router<uint64_t> streamed_routes_;  // routes whose bodies stream, with their size limit
  WorkerPool auth_pool_;
  Counter& http_requests_;
  RateLimiter address_send_limiter_;
  RateLimiter upload_limiter_;
  RateLimiter address_upload_limiter_;

  std::mutex sessions_mu_;
  std::unordered_map<const gateway::Peer*, std::shared_ptr<ClientSession>> sessions_;  // guarded
  std::unordered_multimap<std::string, std::weak_ptr<gateway::Peer>> by_credential_;  // guarded
};

// Responses.
gateway::HttpResponse JsonResponse(int status, std::string body);
gateway::HttpResponse ErrorResponse(const Status& status);

}  // namespace parley::api
