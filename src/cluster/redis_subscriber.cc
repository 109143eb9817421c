#include "cluster/redis_subscriber.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace parley::cluster {
namespace {

constexpr int kReconnectDelayMs = 250;
constexpr int kIdlePollMs = 1000;

}  // namespace

RedisSubscriber::RedisSubscriber(RedisAddress address, int timeout_ms, MessageHandler on_message,
                                 std::function<void()> on_connected)
    : address_(std::move(address)),
      timeout_ms_(timeout_ms),
      on_message_(std::move(on_message)),
      on_connected_(std::move(on_connected)),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

RedisSubscriber::~RedisSubscriber() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void RedisSubscriber::Start() { thread_ = std::thread([this] { Run(); }); }

void RedisSubscriber::Stop() {
  stopping_ = true;
  Wake();
  if (thread_.joinable()) thread_.join();
  Disconnect();
}

void RedisSubscriber::Subscribe(const std::string& channel) {
  {
    std::lock_guard lock(mu_);
    if (!channels_.insert(channel).second) return;
    pending_.emplace_back(true, channel);
  }
  Wake();
}

void RedisSubscriber::Unsubscribe(const std::string& channel) {
  {
    std::lock_guard lock(mu_);
    if (channels_.erase(channel) == 0) return;
    pending_.emplace_back(false, channel);
  }
  Wake();
}

bool RedisSubscriber::WaitSubscribed(const std::string& channel) {
  std::unique_lock lock(mu_);
  return confirmed_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms_),
                                [&] { return confirmed_.contains(channel); });
}

void RedisSubscriber::Wake() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
}

void RedisSubscriber::Run() {
  while (!stopping_) {
    if (context_ == nullptr && !Connect()) {
      WaitForWork(kReconnectDelayMs, false);
      continue;
    }
    if (!FlushChanges()) continue;
    WaitForWork(kIdlePollMs, true);
    if (!stopping_ && !ReadMessages()) continue;
  }
}

bool RedisSubscriber::Connect() {
  auto c = ConnectRedis(address_, timeout_ms_);
  if (!c.ok()) return false;
  context_ = *c;
  RedisCommand subscribe{"SUBSCRIBE"};
  {
    std::lock_guard lock(mu_);
    pending_.clear();  // the full set goes out now
    subscribe.insert(subscribe.end(), channels_.begin(), channels_.end());
  }
  if (subscribe.size() > 1) AppendRedisCommand(context_, subscribe);
  connected_ = true;
  spdlog::info("event=redis_subscriber_connected redis={} channels={}", address_.ToString(),
               subscribe.size() - 1);
  if (on_connected_) on_connected_();
  return true;
}

// Sends queued (un)subscriptions; false when the connection broke.
bool RedisSubscriber::FlushChanges() {
  std::vector<std::pair<bool, std::string>> changes;
  {
    std::lock_guard lock(mu_);
    changes.swap(pending_);
  }
  for (auto& [subscribe, channel] : changes) {
    AppendRedisCommand(context_, {subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE", channel});
  }
  int done = 0;
  while (!done) {
    if (redisBufferWrite(context_, &done) != REDIS_OK) {
      Disconnect();
      return false;
    }
  }
  return true;
}

void RedisSubscriber::WaitForWork(int timeout_ms, bool watch_socket) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {watch_socket ? context_->fd : -1, POLLIN, 0}};
  poll(fds, 2, timeout_ms);
  uint64_t drained;
  while (read(wake_fd_, &drained, sizeof drained) > 0) {
  }
}

// Reads what has arrived and dispatches the messages; false when the
// connection broke.
bool RedisSubscriber::ReadMessages() {
  pollfd fd{context_->fd, POLLIN, 0};
  if (poll(&fd, 1, 0) <= 0) return true;
  if (redisBufferRead(context_) != REDIS_OK) {
    spdlog::warn("event=redis_subscriber_lost redis={} error=\"{}\"", address_.ToString(),
                 context_->errstr);
    Disconnect();
    return false;
  }
  void* raw = nullptr;
  while (redisGetReplyFromReader(context_, &raw) == REDIS_OK && raw != nullptr) {
    RedisReply reply = ConvertReply(raw);
    freeReplyObject(raw);
    raw = nullptr;
    // ["message", channel, payload] or ["subscribe" | "unsubscribe", channel, count].
    if (reply.type != RedisReply::Type::kArray || reply.elements.size() != 3) continue;
    const std::string& kind = reply.elements[0].str;
    const std::string& channel = reply.elements[1].str;
    if (kind == "message") {
      on_message_(channel, reply.elements[2].str);
    } else if (kind == "subscribe" || kind == "unsubscribe") {
      std::lock_guard lock(mu_);
      if (kind == "subscribe") {
        confirmed_.insert(channel);
      } else {
        confirmed_.erase(channel);
      }
      confirmed_cv_.notify_all();
    }
  }
  return true;
}

void RedisSubscriber::Disconnect() {
  connected_ = false;
  {
    std::lock_guard lock(mu_);
    confirmed_.clear();
  }
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
}

}  // namespace parley::cluster
