// A Peer for unit tests: records every frame it is sent (thread-safe).
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "gateway/service.h"

namespace parley::gateway::testing {

class RecordingPeer final : public Peer {
 public:
  RecordingPeer(std::string user, std::string session = "s1")
      : user_(std::move(user)), session_(std::move(session)) {}
  void Send(std::shared_ptr<const std::string> frame, uint64_t) override {
    std::lock_guard lock(mu_);
    frames_.push_back(*frame);
  }
  void Close(uint16_t, std::string) override {}
  const std::string& user_id() const override { return user_; }
  const std::string& session_id() const override { return session_; }
  std::vector<std::string> Frames() const {
    std::lock_guard lock(mu_);
    return frames_;
  }
  void Clear() {
    std::lock_guard lock(mu_);
    frames_.clear();
  }

 private:
  const std::string user_, session_;
  mutable std::mutex mu_;
  std::vector<std::string> frames_;
};

}  // namespace parley::gateway::testing
