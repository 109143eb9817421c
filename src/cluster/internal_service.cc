#include "cluster/internal_service.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "common/crypto.h"
#include "protocol/json_util.h"
#include "protocol/server_frames.h"

namespace parley::cluster {
namespace {

constexpr size_t kMaxIdBytes = 128;

Result<directory::RemoteFrame> DecodeItem(const boost::json::value& value, size_t max_frame_bytes) {
  const auto* item = value.if_object();
  if (item == nullptr) return BadRequest("each item must be an object");
  directory::RemoteFrame f;
  const auto* users = item->if_contains("users");
  if (users == nullptr || !users->is_array() || users->as_array().empty()) {
    return BadRequest("users must be a non-empty array");
  }
  for (const auto& u : users->as_array()) {
    if (!u.is_string() || u.as_string().empty() || u.as_string().size() > kMaxIdBytes) {
      return BadRequest("users must hold user ids");
    }
    f.users.emplace_back(u.as_string());
  }
  auto frame = protocol::GetString(*item, "frame", /*required=*/true, max_frame_bytes);
  if (!frame.ok()) return frame.status();
  if (frame->empty()) return BadRequest("frame must not be empty");
  f.frame = std::make_shared<const std::string>(std::move(*frame));
  auto version = protocol::GetUint(*item, "version", /*required=*/false);
  if (!version.ok()) return version.status();
  f.version = *version;
  auto conversation = protocol::GetString(*item, "conversation_id", false, kMaxIdBytes);
  if (!conversation.ok()) return conversation.status();
  auto seq = protocol::GetUint(*item, "seq", /*required=*/false);
  if (!seq.ok()) return seq.status();
  if (conversation->empty() != (*seq == 0)) {
    return BadRequest("conversation_id and seq come together");
  }
  f.conversation_id = std::move(*conversation);
  f.seq = *seq;
  auto changes = protocol::GetBool(*item, "changes_members");
  if (!changes.ok()) return changes.status();
  f.changes_members = changes->value_or(false);
  return f;
}

}  // namespace

InternalService::InternalService(std::string secret, Deliver deliver, MetricsRegistry& metrics,
                                 size_t max_item_frame_bytes)
    : secret_(std::move(secret)),
      deliver_(std::move(deliver)),
      max_item_frame_bytes_(max_item_frame_bytes),
      received_(metrics.AddCounter("parley_cluster_items_received_total",
                                   "Deliveries other nodes forwarded to this node")),
      refused_(metrics.AddCounter("parley_cluster_frames_refused_total",
                                  "Internal-port frames refused as invalid")) {}

void InternalService::HandleHttp(gateway::HttpRequest request, gateway::HttpResponder respond) {
  gateway::HttpResponse response;
  if (request.method == "GET" && request.path == "/healthz") {
    response.body = R"({"ok":true})";
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

Result<std::vector<directory::RemoteFrame>> InternalService::Decode(std::string_view text) const {
  auto doc = protocol::ParseObject(text);
  if (!doc.ok()) return doc.status();
  auto op = protocol::GetString(*doc, "op", /*required=*/true, 16);
  if (!op.ok()) return op.status();
  if (*op != "deliver") return BadRequest("unknown op: only deliver is accepted here");
  const auto* items = doc->if_contains("items");
  if (items == nullptr || !items->is_array()) return BadRequest("items must be an array");
  std::vector<directory::RemoteFrame> frames;
  frames.reserve(items->as_array().size());
  for (const auto& item : items->as_array()) {
    auto f = DecodeItem(item, max_item_frame_bytes_);
    if (!f.ok()) return f.status();
    frames.push_back(std::move(*f));
  }
  return frames;
}

void InternalService::OnFrame(const gateway::PeerPtr& peer, std::string text) {
  auto frames = Decode(text);
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
