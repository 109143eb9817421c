#include "cluster/internal_service.h"

#include <spdlog/spdlog.h>

#include "cluster/node_frame.h"
#include "common/crypto.h"
#include "protocol/server_frames.h"

namespace parley::cluster {

InternalService::InternalService(std::string node_id, std::string secret, Deliver deliver,
                                 MetricsRegistry& metrics, size_t max_item_frame_bytes)
    : node_id_(std::move(node_id)),
      secret_(std::move(secret)),
      deliver_(std::move(deliver)),
      max_item_frame_bytes_(max_item_frame_bytes),
      received_(metrics.AddCounter("parley_cluster_items_received_total",
                                   "Deliveries other nodes forwarded to this node")),
      refused_(metrics.AddCounter("parley_cluster_frames_refused_total",
                                  "Internal-port frames refused as invalid")) {}

void InternalService::HandleHttp(gateway::HttpRequest request, gateway::HttpResponder respond) {
  gateway::HttpResponse response;
  if (request.method == "GET" && request.path == "/healthz") {
    response.body = R"({"ok":true,"node":")" + node_id_ + R"("})";  // node ids are [a-z0-9-]
  } else {
    response.status = 404;
    response.body = protocol::ErrorBody(NotFound("the internal port serves node links only"));
  }
  respond(std::move(response));
}

void InternalService::Authenticate(std::string token,
                                   std::function<void(Result<gateway::Identity>)> done) {
  if (secret_.empty() || !ConstantTimeEquals(token, secret_)) {
    return done(Unauthorized("not a node of this cluster"));
  }
  done(gateway::Identity{"cluster-node", "cluster-secret"});
}

void InternalService::OnOpen(const gateway::PeerPtr& peer) {
  spdlog::info("event=node_link_accepted remote={}", peer->remote_address());
}

void InternalService::OnFrame(const gateway::PeerPtr& peer, std::string text) {
  auto frames = DecodeDeliverFrame(text, max_item_frame_bytes_);
  if (!frames.ok()) {
    refused_.Inc();
    spdlog::warn("event=node_frame_refused remote={} error=\"{}\"", peer->remote_address(),
                 frames.status().message());
    return peer->Send(std::make_shared<const std::string>(protocol::ErrorFrame("", frames.status())));
  }
  received_.Inc(frames->size());
  for (auto& f : *frames) deliver_(std::move(f));
}

void InternalService::OnClose(const gateway::PeerPtr& peer) {
  spdlog::info("event=node_link_closed remote={}", peer->remote_address());
}

}  // namespace parley::cluster
