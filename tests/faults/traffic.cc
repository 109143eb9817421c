#include "faults/traffic.h"

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "testing/helpers.h"

namespace parley::faults {
namespace json = boost::json;
using testing::Str;

namespace {
uint64_t Uint(const json::object& o, std::string_view key) {
  return static_cast<uint64_t>(std::max<int64_t>(0, testing::IntOpt(o, key).value_or(0)));
}
}  // namespace

// ---- Actor ----

Actor::Actor(History& history, std::string user, std::string token, std::string server_url,
             std::string state_file)
    : history_(history),
      user_(std::move(user)),
      token_(std::move(token)),
      state_file_(std::move(state_file)),
      server_url_(std::move(server_url)) {}

Actor::~Actor() { Disconnect(); }

bool Actor::Connect(std::string* error) {
  if (client_) return true;
  client::ClientOptions o;
  o.server = server_url_;
  o.token = token_;
  o.state_file = state_file_;
  // Short timeouts notice a paused server; short waits keep reconnects brisk.
  o.connect_timeout = std::chrono::seconds(2);
  o.idle_timeout = std::chrono::seconds(5);
  o.backoff.base = std::chrono::milliseconds(100);
  o.backoff.cap = std::chrono::milliseconds(1000);
  o.on_wire = [this](bool outgoing, const std::string& text) { OnWire(outgoing, text); };
  o.on_event = [this](const client::Event& e) { OnEvent(e); };
  client_ = std::make_unique<client::Client>(std::move(o));
  if (client_->Start(error)) return true;
  client_.reset();
  return false;
}

void Actor::Disconnect() {
  if (!client_) return;
  client_->Stop();
  client_.reset();
}

void Actor::MoveTo(const std::string& server_url) {
  server_url_ = server_url;
  if (!client_) return;
  client_->SetServer(server_url);
  client_->Reconnect();
}

void Actor::Send(const std::string& conversation) {
  if (!client_) return;
  size_t n;
  {
    std::lock_guard lock(mu_);
    n = ++sent_;
  }
  std::string cmid = client_->Send(client::Target::Conversation(conversation),
                                   user_ + " says " + std::to_string(n));
  history_.Add(
      Op{.type = OpType::kInvoke, .process = user_, .conversation = conversation, .cmid = cmid});
}

void Actor::MarkRead(const std::string& conversation) {
  uint64_t seq = Released(conversation);
  if (client_ && seq > 0) client_->MarkRead(conversation, seq);
}

uint64_t Actor::Released(const std::string& conversation) const {
  std::lock_guard lock(mu_);
  auto it = released_.find(conversation);
  return it == released_.end() ? 0 : it->second;
}

void Actor::RecordFrame(const json::object& frame, const std::string& source) {
  history_.Add(Op{.type = OpType::kDeliver,
                  .process = user_,
                  .conversation = Str(frame, "conversation_id"),
                  .seq = Uint(frame, "seq"),
                  .cmid = Str(frame, "client_msg_id"),
                  .sender = Str(frame, "sender"),
                  .kind = Str(frame, "op"),
                  .source = source,
                  .connection = connection_});
}

void Actor::OnWire(bool outgoing, const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return;
  const json::object& frame = v.get_object();
  std::string op = Str(frame, "op");
  std::string conversation = Str(frame, "conversation_id");
  if (outgoing) {
    if (op == "sync") syncing_ = true;
    if (op == "send") {
      history_.Add(Op{.type = OpType::kAttempt,
                      .process = user_,
                      .conversation = conversation,
                      .cmid = Str(frame, "client_msg_id"),
                      .connection = connection_});
    }
    if (op == "receipt") {
      history_.Add(Op{.type = OpType::kReceiptSent,
                      .process = user_,
                      .conversation = conversation,
                      .seq = Uint(frame, "up_to_seq"),
                      .kind = Str(frame, "kind"),
                      .source = healed_ ? "healed" : ""});
    }
    return;
  }
  if (op == "ready") {
    ++connection_;
    syncing_ = false;
    history_.Add(Op{.type = OpType::kConnected,
                    .process = user_,
                    .connection = connection_,
                    .detail = Str(frame, "session_id")});
  } else if (op == "message" || op == "event") {
    RecordFrame(frame, syncing_ ? "sync" : "live");
  } else if (op == "synced") {
    syncing_ = false;
  } else if (op == "ack") {
    history_.Add(Op{.type = OpType::kAck,
                    .process = user_,
                    .conversation = conversation,
                    .seq = Uint(frame, "seq"),
                    .cmid = Str(frame, "client_msg_id"),
                    .connection = connection_});
  } else if (op == "receipt") {
    history_.Add(Op{.type = OpType::kReceipt,
                    .process = user_,
                    .conversation = conversation,
                    .seq = Uint(frame, "up_to_seq"),
                    .user = Str(frame, "user_id"),
                    .kind = Str(frame, "kind"),
                    .source = syncing_ ? "sync" : "live",
                    .connection = connection_});
  } else if (op == "result") {
    if (auto* messages = frame.if_contains("messages"); messages && messages->is_array()) {
      for (const json::value& m : messages->get_array()) {
        if (m.is_object()) RecordFrame(m.get_object(), "history");
      }
    }
  }
}

void Actor::OnEvent(const client::Event& e) {
  if (e.type == client::EventType::kMessage || e.type == client::EventType::kGroupEvent) {
    {
      std::lock_guard lock(mu_);
      uint64_t& high = released_[e.conversation_id];
      high = std::max(high, e.seq);
    }
    history_.Add(Op{.type = OpType::kRelease,
                    .process = user_,
                    .conversation = e.conversation_id,
                    .seq = e.seq,
                    .cmid = Str(e.frame, "client_msg_id")});
  } else if (e.type == client::EventType::kSendFailed) {
    history_.Add(Op{.type = OpType::kSendFailed,
                    .process = user_,
                    .conversation = e.conversation_id,
                    .cmid = Str(e.frame, "client_msg_id"),
                    .detail = e.detail});
  }
}

// ---- HttpSender ----

HttpSender::HttpSender(History& history, std::string user, std::string token,
                       std::vector<std::string> server_urls)
    : history_(history),
      user_(std::move(user)),
      token_(std::move(token)),
      server_urls_(std::move(server_urls)),
      api_(client::ServerUrl::Parse(server_urls_.at(0)).value(), token_) {
  api_.set_timeout(std::chrono::seconds(3));
}

void HttpSender::NextServer() {
  if (server_urls_.size() < 2) return;
  server_ = (server_ + 1) % server_urls_.size();
  api_ = client::Api(client::ServerUrl::Parse(server_urls_[server_]).value(), token_);
  api_.set_timeout(std::chrono::seconds(3));
}

std::string HttpSender::Send(const std::string& to_user, const std::string& conversation,
                             const std::atomic<bool>& give_up) {
  std::string cmid = testing::UniqueCmid("h-" + user_);
  history_.Add(
      Op{.type = OpType::kInvoke, .process = user_, .conversation = conversation, .cmid = cmid});
  while (!give_up) {
    history_.Add(
        Op{.type = OpType::kAttempt, .process = user_, .conversation = conversation, .cmid = cmid});
    auto ack = api_.SendMessage(to_user, conversation, user_ + " posts " + cmid, "text", cmid);
    if (ack.ok() && ack->is_object()) {
      const json::object& a = ack->get_object();
      std::string where = Str(a, "conversation_id");
      history_.Add(Op{.type = OpType::kAck,
                      .process = user_,
                      .conversation = where,
                      .seq = Uint(a, "seq"),
                      .cmid = cmid});
      return where;
    }
    Code code = ack.status().code();
    bool transient =
        code == Code::kUnavailable || code == Code::kInternal || code == Code::kRateLimited;
    if (!transient) {
      history_.Add(Op{.type = OpType::kSendFailed,
                      .process = user_,
                      .conversation = conversation,
                      .cmid = cmid,
                      .detail = ack.status().ToString()});
      return "";
    }
    NextServer();
    int64_t wait_ms = std::max<int64_t>(100, ack.status().retry_after_ms());
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
  }
  return "";
}

}  // namespace parley::faults
