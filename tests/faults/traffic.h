// The clients of a fault-injection run. Each records what it does and sees
// into the History:
//  - Actor: a user on the project's client library (client/client.h) over
//    WebSocket. The library resends its outbox with the same client_msg_id
//    after every reconnect; the Actor records the wire (attempts, acks, raw
//    deliveries, receipts) through ClientOptions::on_wire and what the
//    library releases to the application through on_event.
//  - HttpSender: a user sending over POST /v1/messages, retrying the same
//    client_msg_id until the server answers (on the next node of a cluster,
//    as a load balancer would).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/http_api.h"
#include "faults/history.h"

namespace parley::faults {

class Actor {
 public:
  Actor(History& history, std::string user, std::string token, std::string server_url,
        std::string state_file);
  ~Actor();

  // Starts a client on the persisted state (outbox, cursor, watermarks).
  bool Connect(std::string* error);
  // Stops the client: the user is offline until the next Connect.
  void Disconnect();
  // Points the client at another server and reconnects there now (a load
  // balancer moving the user off a dead node).
  void MoveTo(const std::string& server_url);
  bool online() const { return client_ != nullptr; }
  bool live() const { return client_ && client_->live(); }
  size_t pending() const { return client_ ? client_->pending_sends() : 0; }

  // Queues a message to `conversation` (recorded as invoked). Online only.
  void Send(const std::string& conversation);
  // Marks `conversation` read up to the highest seq released so far.
  void MarkRead(const std::string& conversation);
  // After this, receipts this actor sends are recorded as sent after the heal.
  void SetHealed() { healed_ = true; }

  const std::string& user() const { return user_; }
  uint64_t Released(const std::string& conversation) const;

 private:
  void OnWire(bool outgoing, const std::string& text);
  void OnEvent(const client::Event& event);
  void RecordFrame(const boost::json::object& frame, const std::string& source);

  History& history_;
  const std::string user_, token_, state_file_;
  std::string server_url_;  // touched by the thread driving this actor only
  std::unique_ptr<client::Client> client_;
  std::atomic<bool> healed_{false};
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> released_;  // guarded by mu_: conversation → highest seq
  size_t sent_ = 0;                           // guarded by mu_
  // Touched on the client's io thread only (one client runs at a time).
  uint64_t connection_ = 0;
  bool syncing_ = false;
};

class HttpSender {
 public:
  // Starts on the first of `server_urls` and moves to the next after a failure.
  HttpSender(History& history, std::string user, std::string token,
             std::vector<std::string> server_urls);

  // Sends one message to `to_user` (1:1, by user id) or `conversation`,
  // retrying the same client_msg_id on every failure that may be transient
  // until it is acked or `give_up` is set. Returns the conversation id.
  std::string Send(const std::string& to_user, const std::string& conversation,
                   const std::atomic<bool>& give_up);

 private:
  void NextServer();

  History& history_;
  const std::string user_, token_;
  const std::vector<std::string> server_urls_;
  size_t server_ = 0;
  client::Api api_;
};

}  // namespace parley::faults
