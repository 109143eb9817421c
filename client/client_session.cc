// Client::Impl: the connection loop (connect, ready, sync, read) and the
// handling of each server frame.
#include <algorithm>
#include <boost/json/parse.hpp>

#include "client/client_impl.h"

namespace parley::client {
namespace net = internal::net;
using internal::Millis;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

net::awaitable<void> Client::Impl::RunLoop() {
  while (!stopping_) {
    Disconnect d = co_await Serve();
    if (stopping_) break;
    Emit(Event{EventType::kDisconnected, "", 0, {}, d.detail});
    if (d.fatal) {
      Emit(Event{EventType::kGaveUp, "", 0, {}, d.detail});
      break;
    }
    std::optional<Millis> delay = backoff_.Next(d.floor);
    if (!delay) {
      Emit(
          Event{EventType::kGaveUp,
                "",
                0,
                {},
                "gave up after " + std::to_string(backoff_.attempts()) + " attempts: " + d.detail});
      break;
    }
    if (skip_wait_) delay = Millis(0);
    skip_wait_ = false;
    Emit(Event{EventType::kReconnecting, "", 0, {}, d.detail, *delay});
    wait_timer_.expires_after(*delay);
    co_await wait_timer_.async_wait(kTuple);
  }
  Persist();
}

Client::Impl::Disconnect Client::Impl::Declined(const boost::system::error_code& ec,
                                                const internal::HttpReply& reply) {
  Disconnect d{"cannot connect to " + url_.ToString() + ": " + ec.message()};
  if (reply.status == 0) return d;
  d.detail = "the server refused the WebSocket upgrade: HTTP " + std::to_string(reply.status) +
             (reply.body.empty() ? "" : " " + reply.body);
  if (reply.status == 401) d.fatal = true;  // a bad token will not get better
  if (reply.status == 429 || reply.status == 503) {
    d.floor = Millis(reply.retry_after_ms > 0 ? reply.retry_after_ms : 1000);
  }
  return d;
}

net::awaitable<Client::Impl::Disconnect> Client::Impl::Serve() {
  auto conn = internal::MakeWsConnection(io_.get_executor(), url_.tls);
  conn_ = conn;
  internal::HttpReply declined;
  auto ec = co_await conn->Connect(url_, options_.token, options_.connect_timeout,
                                   options_.idle_timeout, &declined);
  if (ec || stopping_) {
    conn_.reset();
    co_return Declined(ec, declined);
  }
  ready_timer_.expires_after(options_.connect_timeout);
  ready_timer_.async_wait([this, conn](boost::system::error_code e) {
    if (!e && !ready_ && conn_ == conn) conn->Abort();
  });
  std::string text;
  while (!(ec = co_await conn->Read(text))) HandleFrame(text);

  Disconnect d;
  if (uint16_t code = conn->close_code(); code != 0) {
    d.detail = "closed by the server: " + std::to_string(code) + " " + conn->close_reason();
    if (code == 1013) d.floor = options_.backoff.overload_floor;
    if (code == 1008 && !ready_) d.fatal = true;  // authentication refused
  } else {
    d.detail = ready_ ? "connection lost: " + ec.message() : "no ready frame from the server";
  }
  OnConnectionLost();
  co_return d;
}

void Client::Impl::OnConnectionLost() {
  conn_.reset();
  ready_ = syncing_ = live_ = false;
  connected_flag = live_flag = false;
  ready_timer_.cancel();
  for (OutboxItem& item : outbox_) item.in_flight = false;
  gap_requests_.clear();
  unsupported_.clear();
}

void Client::Impl::ChangeServer(const std::string& url) {
  auto parsed = ServerUrl::Parse(url);
  if (!parsed.ok()) return Emit(Event{EventType::kError, "", 0, {}, parsed.status().message()});
  url_ = *parsed;
}

void Client::Impl::ForceReconnect() {
  skip_wait_ = true;
  if (conn_) conn_->Abort();
  wait_timer_.cancel();
}

void Client::Impl::HandleFrame(const std::string& text) {
  if (options_.on_wire) options_.on_wire(false, text);
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Emit(Event{EventType::kError, "", 0, {}, "unparsable frame from the server"});
  }
  json::object frame = std::move(v.get_object());
  std::string op = StrField(frame, "op");
  if (op == "ready") return OnReady(frame);
  if (op == "message" || op == "event") return OnSequenced(std::move(frame));
  if (op == "synced") return OnSynced(frame);
  if (op == "ack") return OnAck(std::move(frame));
  if (op == "result") return OnResult(frame);
  if (op == "error") return OnError(std::move(frame));
  EventType type;
  if (op == "receipt") {
    type = EventType::kReceipt;
  } else if (op == "typing") {
    type = EventType::kTyping;
  } else if (op == "presence") {
    type = EventType::kPresence;
  } else {
    return;  // pong, and ops this client does not know
  }
  std::string conversation = StrField(frame, "conversation_id");
  Emit(Event{type, conversation, UintField(frame, "up_to_seq"), std::move(frame)});
}

void Client::Impl::OnReady(const json::object& frame) {
  ready_ = true;
  connected_flag = true;
  ready_timer_.cancel();
  user_id_ = StrField(frame, "user_id");
  {
    std::lock_guard lock(mu);
    user_id_copy = user_id_;
  }
  Emit(Event{EventType::kConnected, "", 0, frame});
  StartSync();
  SendReceipts();
  if (!presence_subs_.empty()) {
    json::array users;
    for (const auto& u : presence_subs_) users.emplace_back(u);
    Write({{"op", "presence.subscribe"}, {"users", std::move(users)}}, "p:");
  }
}

void Client::Impl::OnSequenced(json::object frame) {
  Sequenced item{StrField(frame, "conversation_id"), UintField(frame, "seq"),
                 StrField(frame, "message_id"), std::move(frame)};
  if (item.conversation_id.empty() || item.seq == 0) {
    return Emit(Event{EventType::kError, "", 0, std::move(item.frame),
                      "frame without conversation_id/seq"});
  }
  Release(ordering_.Offer(std::move(item)));
  if (ordering_.held() > 0) ArmGapTimer();
}

void Client::Impl::OnSynced(const json::object& frame) {
  syncing_ = false;
  cursor_ = StrField(frame, "cursor");
  auto* more = frame.if_contains("more");
  if (more && more->is_bool() && more->get_bool()) return StartSync();
  live_ = true;
  live_flag = true;
  backoff_.Reset();
  UpdateSafeCursor();
  MarkDirty();
  Emit(Event{EventType::kSynced, "", 0, frame});
  FlushOutbox();
  if (ordering_.held() > 0) ArmGapTimer();
}

void Client::Impl::OnAck(json::object frame) {
  std::string id = StrField(frame, "client_msg_id");
  std::optional<OutboxItem> sent;
  for (auto it = outbox_.begin(); it != outbox_.end(); ++it) {
    if (it->client_msg_id == id) {
      sent = std::move(*it);
      outbox_.erase(it);
      --pending;
      break;
    }
  }
  Emit(Event{EventType::kAck, StrField(frame, "conversation_id"), UintField(frame, "seq"), frame});
  MarkDirty();
  if (!sent) return;
  // The sending session gets no `message` copy: the ack stands for it in the
  // conversation's order, so later seqs are not held waiting for it. An ack
  // can overtake earlier live frames, so unlike a live frame it does not mark
  // where a new conversation starts for us: what lies below it is gap-filled.
  std::string conversation = StrField(frame, "conversation_id");
  if (!conversation.empty() && !ordering_.Knows(conversation)) {
    ordering_.SetWatermark(conversation, 0);
  }
  json::object own{{"op", "message"}};
  for (const char* key : {"conversation_id", "seq", "message_id", "ts"}) {
    if (auto* v = frame.if_contains(key)) own[key] = *v;
  }
  own["sender"] = user_id_;
  for (const char* key : {"type", "content", "client_msg_id", "media_id", "reply_to"}) {
    if (auto* v = sent->frame.if_contains(key)) own[key] = *v;
  }
  OnSequenced(std::move(own));
}

void Client::Impl::OnResult(const json::object& frame) {
  std::string id = StrField(frame, "id");
  if (id.rfind("h:", 0) != 0) return;
  std::string conversation = id.substr(2);
  gap_requests_.erase(conversation);
  size_t count = 0;
  uint64_t highest = 0;
  if (auto* messages = frame.if_contains("messages"); messages && messages->is_array()) {
    for (const json::value& m : messages->get_array()) {
      if (!m.is_object()) continue;
      ++count;
      json::object item = m.get_object();
      Sequenced s{StrField(item, "conversation_id"), UintField(item, "seq"),
                  StrField(item, "message_id"), std::move(item)};
      if (s.conversation_id.empty()) s.conversation_id = conversation;
      highest = std::max(highest, s.seq);
      if (s.seq != 0) Release(ordering_.Offer(std::move(s)));
    }
  }
  if (auto first = ordering_.FirstHeld(conversation)) {
    if (count >= 200) {
      FillGaps();
    } else if (highest + 1 >= *first) {
      // A short page reaching the held frames has everything this user may
      // see below them: what it did not contain is invisible to us.
      Release(ordering_.SkipTo(conversation, *first - 1));
    } else {
      // The page was read before the missing entries were (an ack can
      // overtake earlier live frames): they are in flight, so ask again later.
      ArmGapTimer();
    }
  }
  UpdateSafeCursor();
}

void Client::Impl::OnError(json::object frame) {
  std::string id = StrField(frame, "id");
  std::string code = StrField(frame, "code");
  std::string prefix = id.substr(0, 2);
  if (prefix == "s:") return OnSendError(id.substr(2), std::move(frame));
  if (prefix == "r:") return OnRealtimeError("receipt", std::move(frame));
  if (prefix == "t:") return OnRealtimeError("typing", std::move(frame));
  if (prefix == "p:") return OnRealtimeError("presence", std::move(frame));
  const std::string detail = code + ": " + StrField(frame, "message");
  if (prefix == "y:") {
    syncing_ = false;
    Emit(Event{EventType::kError, "", 0, std::move(frame), "sync failed: " + detail});
    if (code == "bad_request") {  // our cursor is unusable: start over (dedup holds)
      cursor_.clear();
      return StartSync();
    }
    if (conn_) conn_->Abort();  // reconnect with backoff and sync again
    return;
  }
  if (prefix == "h:") {
    std::string conversation = id.substr(2);
    gap_requests_.erase(conversation);
    Emit(Event{EventType::kError, conversation, 0, std::move(frame), "history failed: " + detail});
    if (auto first = ordering_.FirstHeld(conversation)) {
      Release(ordering_.SkipTo(conversation, *first - 1));  // do not stall the conversation
    }
    return UpdateSafeCursor();
  }
  Emit(Event{EventType::kError, "", 0, std::move(frame), detail});
}

void Client::Impl::OnSendError(const std::string& client_msg_id, json::object frame) {
  std::string code = StrField(frame, "code");
  auto it = std::find_if(outbox_.begin(), outbox_.end(),
                         [&](const OutboxItem& i) { return i.client_msg_id == client_msg_id; });
  if (it == outbox_.end()) return;
  if (code == "rate_limited" || code == "unavailable" || code == "internal") {
    it->in_flight = false;  // transient: the same client_msg_id goes again
    return ArmRetry();
  }
  std::string conversation = StrField(it->frame, "conversation_id");
  frame["client_msg_id"] = client_msg_id;
  outbox_.erase(it);
  --pending;
  Persist();
  std::string detail = code + ": " + StrField(frame, "message");
  Emit(Event{EventType::kSendFailed, conversation, 0, std::move(frame), std::move(detail)});
}

void Client::Impl::OnRealtimeError(const std::string& kind, json::object frame) {
  std::string message = StrField(frame, "message");
  if (message.find("not supported") != std::string::npos) {
    if (!unsupported_.insert(kind).second) return;  // already reported on this connection
    if (kind == "receipt") receipts_.clear();
  }
  std::string detail = kind + " refused: " + StrField(frame, "code") + ": " + message;
  Emit(Event{EventType::kError, "", 0, std::move(frame), std::move(detail)});
}

}  // namespace parley::client
