// Typing indicators: ephemeral (never stored), rate-limited per session,
// forwarded in 1:1 and in groups up to a size, never in channels, and
// expired by the server when a `start` is not refreshed in time.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "chat/relations.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/rate_limiter.h"
#include "directory/session_directory.h"
#include "common/scheduler.h"
#include "gateway/service.h"
#include "store/store.h"

namespace parley::chat {

struct TypingOptions {
  size_t fanout_limit = 50;  // members; larger groups get no typing
  int64_t expire_ms = 6000;  // a `start` lasts this long without a refresh
  double rate = 2;           // frames per second per session
  double burst = 5;
};

class TypingService {
 public:
  TypingService(store::Store& store, directory::SessionDirectory& directory, Relations& relations,
                const Clock& clock, Scheduler& scheduler,
                std::function<void(std::function<void()>)> run_blocking, MetricsRegistry& metrics,
                TypingOptions options);

  // A typing frame from `user` on session `session_id`. Call from a worker thread.
  Status Handle(const std::string& user_id, const std::string& session_id,
                const std::string& conversation_id, const std::string& state);

 private:
  void Forward(const std::string& user_id, const std::string& conversation_id,
               const std::string& state, const std::string& origin_session);
  void Expire(const std::string& user_id, const std::string& conversation_id, uint64_t generation);

  store::Store& store_;
  directory::SessionDirectory& directory_;
  Relations& relations_;
  Scheduler& scheduler_;
  const std::function<void(std::function<void()>)> run_blocking_;
  const TypingOptions options_;
  RateLimiter limiter_;
  Counter& forwarded_;
  Counter& dropped_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> active_;  // (conv, user) → generation
  uint64_t next_generation_ = 1;                                    // guarded by mu_
};

}  // namespace parley::chat
