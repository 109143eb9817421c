#include "api/client_session.h"

#include <algorithm>

namespace parley::api {

void ClientSession::Send(std::shared_ptr<const std::string> frame, uint64_t version) {
  std::lock_guard lock(mu_);  // held while posting: keeps order with EndSync
  if (version != 0 && (syncing_ || initial_hold_)) {
    held_.emplace_back(std::move(frame), version);
    if (initial_hold_ && held_.size() > kMaxInitialHold) ReleaseLocked();  // bound memory
    return;
  }
  if (version != 0 && (withhold_ || version <= synced_to_)) return;  // a sync carries it
  connection_->Send(std::move(frame), version);
}

void ClientSession::ReleaseInitialHold() {
  std::lock_guard lock(mu_);
  if (initial_hold_ && !syncing_) ReleaseLocked();
}

void ClientSession::ReleaseLocked() {
  initial_hold_ = false;
  for (auto& [frame, version] : held_) {
    if (!withhold_ && version > synced_to_) connection_->Send(std::move(frame), version);
  }
  held_.clear();
}

bool ClientSession::BeginSync() {
  std::lock_guard lock(mu_);
  if (syncing_) return false;
  syncing_ = true;
  initial_hold_ = false;  // what was held is merged with this sync's page
  return true;
}

void ClientSession::EndSync(std::vector<std::string> frames,
                            std::shared_ptr<const std::string> synced, uint64_t cursor, bool more) {
  std::lock_guard lock(mu_);
  for (std::string& f : frames) connection_->Send(std::make_shared<const std::string>(std::move(f)), 0);
  connection_->Send(std::move(synced), 0);
  withhold_ = more;
  synced_to_ = std::max(synced_to_, cursor);
  if (!more) {
    for (auto& [frame, version] : held_) {
      if (version > cursor) connection_->Send(std::move(frame), version);
    }
  }
  held_.clear();
  syncing_ = false;
}

void ClientSession::AbortSync(std::shared_ptr<const std::string> error) {
  std::lock_guard lock(mu_);
  connection_->Send(std::move(error), 0);
  if (!withhold_) {
    for (auto& [frame, version] : held_) connection_->Send(std::move(frame), version);
  }
  held_.clear();
  syncing_ = false;
}

}  // namespace parley::api
