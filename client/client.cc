// Client's public methods, lifecycle and event queue.
#include "client/client.h"

#include <random>

#include "client/client_impl.h"

namespace parley::client {
namespace {

std::string NewClientMsgId() {
  thread_local std::mt19937_64 rng{
      std::random_device{}() ^
      static_cast<uint64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()))};
  static const char* kHex = "0123456789abcdef";
  std::string id = "c-";
  for (int i = 0; i < 2; ++i) {
    uint64_t v = rng();
    for (int j = 0; j < 16; ++j, v >>= 4) id += kHex[v & 15];
  }
  return id;
}

}  // namespace

const char* EventTypeName(EventType type) {
  switch (type) {
    case EventType::kConnected:
      return "connected";
    case EventType::kSynced:
      return "synced";
    case EventType::kDisconnected:
      return "disconnected";
    case EventType::kReconnecting:
      return "reconnecting";
    case EventType::kGaveUp:
      return "gave_up";
    case EventType::kMessage:
      return "message";
    case EventType::kGroupEvent:
      return "event";
    case EventType::kAck:
      return "ack";
    case EventType::kSendFailed:
      return "send_failed";
    case EventType::kReceipt:
      return "receipt";
    case EventType::kTyping:
      return "typing";
    case EventType::kPresence:
      return "presence";
    case EventType::kError:
      return "error";
  }
  return "unknown";
}

Target Target::Parse(const std::string& text) {
  return text.find(':') != std::string::npos ? Conversation(text) : User(text);
}

std::string StrField(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : "";
}

uint64_t UintField(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64()) return v->get_int64() > 0 ? static_cast<uint64_t>(v->get_int64()) : 0;
  return 0;
}

// ---- Impl lifecycle and events ----

Client::Impl::Impl(ClientOptions options)
    : options_(std::move(options)),
      wait_timer_(io_),
      ready_timer_(io_),
      gap_timer_(io_),
      flush_timer_(io_),
      retry_timer_(io_),
      backoff_(options_.backoff) {}

bool Client::Impl::Start(std::string* error) {
  if (thread_.joinable()) return true;
  auto url = ServerUrl::Parse(options_.server);
  if (!url.ok()) {
    if (error) *error = url.status().message();
    return false;
  }
  url_ = *url;
  if (!LoadPersisted(error)) return false;
  pending += outbox_.size();
  work_.emplace(io_.get_executor());
  internal::net::co_spawn(io_, RunLoop(), internal::net::detached);
  thread_ = std::thread([this] { io_.run(); });
  return true;
}

void Client::Impl::Stop() {
  if (!thread_.joinable()) return;
  Post([this] {
    stopping_ = true;
    if (conn_) conn_->Abort();
    for (auto* t : {&wait_timer_, &ready_timer_, &gap_timer_, &flush_timer_, &retry_timer_})
      t->cancel();
    Persist();
  });
  work_.reset();
  thread_.join();
}

void Client::Impl::Emit(Event event) {
  if (options_.on_event) return options_.on_event(event);
  {
    std::lock_guard lock(events_mu_);
    events_.push_back(std::move(event));
  }
  events_cv_.notify_one();
}

std::optional<Event> Client::Impl::NextEvent(std::chrono::milliseconds timeout) {
  std::unique_lock lock(events_mu_);
  if (!events_cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

// ---- public methods ----

Client::Client(ClientOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}
Client::~Client() { Stop(); }

bool Client::Start(std::string* error) { return impl_->Start(error); }
void Client::Stop() { impl_->Stop(); }

std::string Client::Send(const Target& to, std::string content, std::string type) {
  std::string id = NewClientMsgId();
  json::object frame{{"op", "send"},
                     {"content", std::move(content)},
                     {"type", std::move(type)},
                     {"client_msg_id", id}};
  if (!to.conversation_id.empty()) {
    frame["conversation_id"] = to.conversation_id;
  } else {
    frame["to"] = to.user_id;
  }
  ++impl_->pending;
  impl_->Post([impl = impl_.get(), id, frame = std::move(frame)]() mutable {
    impl->QueueSend(id, std::move(frame));
  });
  return id;
}

void Client::MarkRead(const std::string& conversation_id, uint64_t seq) {
  impl_->Post([impl = impl_.get(), conversation_id, seq] {
    impl->QueueReceipt("read", conversation_id, seq);
  });
}

void Client::SetTyping(const std::string& conversation_id, bool typing) {
  impl_->Post(
      [impl = impl_.get(), conversation_id, typing] { impl->Typing(conversation_id, typing); });
}

void Client::SubscribePresence(const std::vector<std::string>& users) {
  impl_->Post([impl = impl_.get(), users] { impl->Presence(users, true); });
}

void Client::UnsubscribePresence(const std::vector<std::string>& users) {
  impl_->Post([impl = impl_.get(), users] { impl->Presence(users, false); });
}

void Client::SetServer(const std::string& url) {
  impl_->Post([impl = impl_.get(), url] { impl->ChangeServer(url); });
}

void Client::Reconnect() {
  impl_->Post([impl = impl_.get()] { impl->ForceReconnect(); });
}

std::optional<Event> Client::NextEvent(std::chrono::milliseconds timeout) {
  return impl_->NextEvent(timeout);
}

bool Client::connected() const { return impl_->connected_flag; }
bool Client::live() const { return impl_->live_flag; }
size_t Client::pending_sends() const { return impl_->pending; }
std::string Client::user_id() const {
  std::lock_guard lock(impl_->mu);
  return impl_->user_id_copy;
}

}  // namespace parley::client
