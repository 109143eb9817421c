// Internal: the state behind parley::client::Client. Everything below the
// "io thread" line is touched only on the client's io thread.
#pragma once

#include <atomic>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/backoff.h"
#include "client/client.h"
#include "client/ordering.h"
#include "client/transport.h"
#include "client/url.h"

namespace parley::client {

namespace json = boost::json;

class Client::Impl {
 public:
  explicit Impl(ClientOptions options);

  bool Start(std::string* error);
  void Stop();
  void Post(std::function<void()> task) { internal::net::post(io_, std::move(task)); }
  void Emit(Event event);
  std::optional<Event> NextEvent(std::chrono::milliseconds timeout);

  // Called on the io thread (posted by the public methods).
  void QueueSend(std::string client_msg_id, json::object frame);
  void QueueReceipt(const std::string& kind, const std::string& conversation_id, uint64_t seq);
  void Typing(const std::string& conversation_id, bool typing);
  void Presence(const std::vector<std::string>& users, bool subscribe);
  void ChangeServer(const std::string& url);
  void ForceReconnect();

  std::atomic<bool> connected_flag{false};
  std::atomic<bool> live_flag{false};
  std::atomic<size_t> pending{0};
  mutable std::mutex mu;
  std::string user_id_copy;  // guarded by mu

 private:
  struct Disconnect {
    std::string detail;
    internal::Millis floor{0};
    bool fatal = false;
  };
  struct OutboxItem {
    std::string client_msg_id;
    json::object frame;
    bool in_flight = false;
  };

  // client_session.cc: the connection loop and the frames.
  internal::net::awaitable<void> RunLoop();
  internal::net::awaitable<Disconnect> Serve();
  Disconnect Declined(const boost::system::error_code& ec, const internal::HttpReply& reply);
  void HandleFrame(const std::string& text);
  void OnReady(const json::object& frame);
  void OnSequenced(json::object frame);
  void OnSynced(const json::object& frame);
  void OnAck(json::object frame);
  void OnResult(const json::object& frame);
  void OnError(json::object frame);
  void OnSendError(const std::string& client_msg_id, json::object frame);
  void OnRealtimeError(const std::string& kind, json::object frame);
  void OnConnectionLost();

  // client_state.cc: outbox, receipts, gaps, persistence.
  void Write(json::object frame, const std::string& id);
  void WriteText(std::string text);  // every frame goes out through here
  void StartSync();
  void FlushOutbox();
  void ArmRetry();
  void Release(std::vector<Sequenced> items);
  void SendReceipts();
  void ArmGapTimer();
  void FillGaps();
  void UpdateSafeCursor();
  void MarkDirty();
  void Persist();
  bool LoadPersisted(std::string* error);

  const ClientOptions options_;
  std::mutex events_mu_;
  std::condition_variable events_cv_;
  std::deque<Event> events_;  // guarded by events_mu_
  internal::net::io_context io_;
  std::optional<internal::net::executor_work_guard<internal::net::io_context::executor_type>> work_;
  std::thread thread_;

  // ---- io thread ----
  ServerUrl url_;
  std::shared_ptr<internal::WsConnection> conn_;
  internal::net::steady_timer wait_timer_, ready_timer_, gap_timer_, flush_timer_, retry_timer_;
  Backoff backoff_;
  OrderingBuffer ordering_;
  std::string user_id_;
  std::string cursor_;       // from the last `synced`
  std::string safe_cursor_;  // persisted: nothing before it is still held
  std::deque<OutboxItem> outbox_;
  std::map<std::pair<std::string, std::string>, uint64_t> receipts_;  // (kind, conv) → up_to_seq
  std::set<std::string> presence_subs_;
  std::set<std::string> gap_requests_;  // conversations with a history request in flight
  std::set<std::string> unsupported_;   // frame kinds this server refused on this connection
  uint64_t next_id_ = 0;
  size_t live_frames_ = 0;  // released since the last sync while live
  bool ready_ = false, syncing_ = false, live_ = false, stopping_ = false, skip_wait_ = false;
  bool gap_armed_ = false, flush_armed_ = false, retry_armed_ = false, dirty_ = false;
};

// Field helpers for server frames.
std::string StrField(const json::object& o, const char* key);
uint64_t UintField(const json::object& o, const char* key);

}  // namespace parley::client
