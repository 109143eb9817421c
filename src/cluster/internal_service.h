// The internal port: where other nodes deliver frames for this node's
// sessions. It speaks the gateway's WebSocket (a second Gateway instance) but
// accepts only peers presenting the cluster secret as their bearer token, and
// only `deliver` frames (cluster/node_frame.h). A frame with any invalid item
// is refused whole with an `error` frame; the link stays open.
#pragma once

#include <functional>
#include <string>

#include "common/metrics.h"
#include "directory/session_directory.h"
#include "gateway/service.h"

namespace parley::cluster {

class InternalService final : public gateway::Service {
 public:
  using Deliver = std::function<void(directory::RemoteFrame)>;
  InternalService(std::string node_id, std::string secret, Deliver deliver,
                  MetricsRegistry& metrics, size_t max_item_frame_bytes = 64 * 1024);

  void HandleHttp(gateway::HttpRequest request, gateway::HttpResponder respond) override;
  void Authenticate(std::string token,
                    std::function<void(Result<gateway::Identity>)> done) override;
  void OnOpen(const gateway::PeerPtr& peer) override;
  void OnFrame(const gateway::PeerPtr& peer, std::string text) override;
  void OnClose(const gateway::PeerPtr& peer) override;

 private:
  const std::string node_id_;
  const std::string secret_;
  const Deliver deliver_;
  const size_t max_item_frame_bytes_;
  Counter& received_;
  Counter& refused_;
};

}  // namespace parley::cluster
