// parley::client::Client: a WebSocket chat client that keeps the guarantees of
// SPEC sections 4 and 5 from the application's side.
//
//  - Connects to ws(s)://host:port/v1/ws with a Bearer token, waits for
//    `ready`, then `sync`s from the persisted cursor (again while `more`).
//  - Send() queues a message in an outbox under a generated client_msg_id and
//    re-sends it with the same id after every reconnect until it is acked
//    (the server's idempotency makes that safe). The outbox is persisted.
//  - Received `message`/`event` frames (and the sender's own acked messages)
//    are released to the application per conversation in seq order, exactly
//    once: duplicates are dropped, gaps are held and filled by history.
//  - Sends `delivered` receipts for what it releases, `read` on MarkRead().
//    A server that answers receipt/typing/presence frames with an `error` is
//    tolerated: one kError event per kind, and that kind is not sent again on
//    this connection.
//  - Reconnects with exponential backoff and full jitter (client/backoff.h),
//    waiting at least Retry-After (429/503 on the upgrade) or the overload
//    floor after a 1013 close. A 401 (bad token) is final: kGaveUp.
//
// Threads: the client runs its own io thread. Every public method may be
// called from any thread. Events go to ClientOptions::on_event (called on
// the io thread; must not block) or, when that is unset, to a queue read with
// NextEvent().
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/backoff.h"

namespace parley::client {

enum class EventType {
  kConnected,     // `ready` received; frame = the ready frame
  kSynced,        // a sync finished (more: false); live from here
  kDisconnected,  // the connection ended; detail says why
  kReconnecting,  // waiting retry_in before the next attempt
  kGaveUp,        // no more attempts (max_attempts, bad token, Stop is not needed)
  kMessage,       // a `message` frame, in seq order (own sends included)
  kGroupEvent,    // an `event` frame (created, member_added, …), in seq order
  kAck,           // one of our sends was stored; frame = the ack
  kSendFailed,    // the server refused a send for good; frame = the error
  kReceipt,       // `receipt` frame
  kTyping,        // `typing` frame
  kPresence,      // `presence` frame
  kError,         // an `error` frame not tied to a send (e.g. unsupported)
};
const char* EventTypeName(EventType type);

struct Event {
  EventType type;
  std::string conversation_id;
  uint64_t seq = 0;
  boost::json::object frame;              // the server frame, when there is one
  std::string detail;                     // human-readable context (errors, disconnects)
  std::chrono::milliseconds retry_in{0};  // kReconnecting
};

struct ClientOptions {
  std::string server = "http://127.0.0.1:8080";  // http(s):// or ws(s)://
  std::string token;
  // Cursor, per-conversation watermarks and outbox; empty: kept in memory.
  std::string state_file;
  BackoffOptions backoff;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // No frame (not even a ping) for this long ends the connection; 0: off.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(40)};
  // How long a seq gap may stay open before history is asked to fill it.
  std::chrono::milliseconds gap_fill_delay{std::chrono::milliseconds(300)};
  bool send_delivered_receipts = true;
  // Live frames carry no cursor: after this many of them the client syncs
  // again (getting nothing new) just to advance and persist its cursor, so a
  // later reconnect does not re-download a long live session. 0: never.
  size_t resync_after_live_frames = 500;
  std::function<void(const Event&)> on_event;  // optional; see the threading note
  // Optional: sees every frame this client writes (outgoing) or reads, as
  // text, on the io thread before it is handled. Tests record histories with it.
  std::function<void(bool outgoing, const std::string& text)> on_wire;
};

// Where a message goes: a user (1:1) or an existing conversation.
struct Target {
  std::string user_id;
  std::string conversation_id;
  static Target User(std::string id) { return {std::move(id), ""}; }
  static Target Conversation(std::string id) { return {"", std::move(id)}; }
  // Conversation ids contain ':' (e.g. "d:alice:bob", "g:…"); user ids cannot.
  static Target Parse(const std::string& text);
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();  // Stop()s
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Loads the state file and starts connecting. False (with `error`) if the
  // server URL or the state file is unusable.
  bool Start(std::string* error = nullptr);
  // Closes the connection, saves the state and joins the io thread.
  void Stop();

  // Queues a message; returns its client_msg_id. Sent once the client is
  // connected and synced, re-sent until acked.
  std::string Send(const Target& to, std::string content, std::string type = "text");
  // Sends a `read` receipt for `conversation` up to `seq`.
  void MarkRead(const std::string& conversation_id, uint64_t seq);
  void SetTyping(const std::string& conversation_id, bool typing);
  void SubscribePresence(const std::vector<std::string>& users);
  void UnsubscribePresence(const std::vector<std::string>& users);

  // Points the client at another server (next connection attempt).
  void SetServer(const std::string& url);
  // Drops the current connection (if any) and reconnects now, skipping any
  // backoff wait in progress. The attempt counter is kept.
  void Reconnect();

  // The next queued event, waiting up to `timeout`. Only without on_event.
  std::optional<Event> NextEvent(std::chrono::milliseconds timeout);

  bool connected() const;        // ready received and not yet disconnected
  bool live() const;             // connected and synced
  size_t pending_sends() const;  // outbox size
  std::string user_id() const;   // from `ready`, empty before

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace parley::client
