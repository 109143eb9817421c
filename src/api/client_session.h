// The domain's view of one WebSocket session: wraps the gateway's Peer and
// keeps the order guarantee across `sync` (SPEC 5.3). While a sync runs, live
// frames are held; when it ends they are sent unless the sync already did.
// While a sync reports `more`, live frames are withheld until the client has
// caught up, so live delivery never skips ahead of what sync will deliver.
// A new session also holds live frames until its first frame (clients sync
// first) or a deadline: frames that arrive before the first sync would
// otherwise get ahead of what that sync replays.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "gateway/service.h"

namespace parley::api {

class ClientSession final : public gateway::Peer {
 public:
  ClientSession(gateway::PeerPtr connection, int64_t opened_at_ms)
      : connection_(std::move(connection)), opened_at_ms_(opened_at_ms) {}

  void Send(std::shared_ptr<const std::string> frame, uint64_t version) override;
  void Close(uint16_t code, std::string reason) override { connection_->Close(code, std::move(reason)); }
  const std::string& user_id() const override { return connection_->user_id(); }
  const std::string& session_id() const override { return connection_->session_id(); }
  const std::string& credential() const override { return connection_->credential(); }
  const std::string& remote_address() const override { return connection_->remote_address(); }
  int64_t opened_at_ms() const override { return opened_at_ms_; }

  // False if a sync is already running on this session.
  bool BeginSync();
  // Sends the page's frames and the `synced` frame, then releases held frames.
  void EndSync(std::vector<std::string> frames, std::shared_ptr<const std::string> synced,
               uint64_t cursor, bool more);
  // Ends a sync that failed: held frames are released as they are.
  void AbortSync(std::shared_ptr<const std::string> error);
  // Ends the initial hold (the client's first frame was not a sync, or it
  // did not send one in time): held frames go out in order.
  void ReleaseInitialHold();

 private:
  static constexpr size_t kMaxInitialHold = 10'000;
  void ReleaseLocked();  // requires mu_

  gateway::PeerPtr connection_;
  const int64_t opened_at_ms_;
  std::mutex mu_;
  bool syncing_ = false;   // guarded by mu_
  bool initial_hold_ = true;  // guarded by mu_
  bool withhold_ = false;  // guarded by mu_: the last sync page said `more`
  uint64_t synced_to_ = 0;  // guarded by mu_: live frames at or below it were in a sync
  std::vector<std::pair<std::shared_ptr<const std::string>, uint64_t>> held_;  // guarded
};

}  // namespace parley::api
