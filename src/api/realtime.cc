// Receipts, typing and presence frames. Their coalescing paths are a separate
// component (issue: receipts/presence/typing); until it lands this server
// answers them with an explicit error instead of silently dropping them.
#include "api/api_service.h"
#include "protocol/server_frames.h"

namespace parley::api {
namespace {
void Unsupported(const std::shared_ptr<ClientSession>& s, const std::string& id, const char* what) {
  s->Send(std::make_shared<const std::string>(protocol::ErrorFrame(
              id, BadRequest(std::string(what) + " frames are not supported by this server yet"))),
          0);
}
}  // namespace

void ApiService::OnRealtime(const std::shared_ptr<ClientSession>& s, std::string id,
                            protocol::ReceiptFrame) {
  Unsupported(s, id, "receipt");
}
void ApiService::OnRealtime(const std::shared_ptr<ClientSession>& s, std::string id,
                            protocol::TypingFrame) {
  Unsupported(s, id, "typing");
}
void ApiService::OnRealtime(const std::shared_ptr<ClientSession>& s, std::string id,
                            protocol::PresenceFrame) {
  Unsupported(s, id, "presence");
}

}  // namespace parley::api
