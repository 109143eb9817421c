// Receipts, typing and presence frames: each goes to its own coalescing or
// ephemeral path (chat/receipts, chat/typing, presence/), never the message path.
#include "api/api_service.h"
#include "common/ids.h"
#include "protocol/server_frames.h"

namespace parley::api {
namespace {

std::shared_ptr<const std::string> Shared(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

}  // namespace

void ApiService::OnRealtime(const std::shared_ptr<ClientSession>& s, std::string id,
                            protocol::ReceiptFrame f) {
  chat_.RunBlocking([this, s, id = std::move(id), f = std::move(f)] {
    Status st = receipts_.Record(s->user_id(), f.conversation_id, f.kind, f.up_to_seq);
    if (!st.ok()) s->Send(Shared(protocol::ErrorFrame(id, st)), 0);  // no reply when fine
  });
}

void ApiService::OnRealtime(const std::shared_ptr<ClientSession>& s, std::string id,
                            protocol::TypingFrame f) {
  chat_.RunBlocking([this, s, id = std::move(id), f = std::move(f)] {
    Status st = typing_.Handle(s->user_id(), s->session_id(), f.conversation_id, f.state);
    if (!st.ok()) s->Send(Shared(protocol::ErrorFrame(id, st)), 0);
  });
}

void ApiService::OnRealtime(const std::shared_ptr<ClientSession>& s, std::string id,
                            protocol::PresenceFrame f) {
  chat_.RunBlocking([this, s, id = std::move(id), f = std::move(f)] {
    if (!f.subscribe) {
      std::vector<std::string> users;
      for (const auto& raw : f.users) {
        if (auto u = NormalizeUserId(raw); u.ok()) users.push_back(*u);
      }
      return presence_.Unsubscribe(*s, users);
    }
    if (presence_.SubscriptionCount(*s) + f.users.size() > options_.max_presence_subscriptions) {
      return s->Send(Shared(protocol::ErrorFrame(
                         id, TooLarge("at most " + std::to_string(options_.max_presence_subscriptions) +
                                      " presence subscriptions per session"))),
                     0);
    }
    auto users = PresenceVisibleUsers(s->user_id(), f.users);
    if (!users.ok()) return s->Send(Shared(protocol::ErrorFrame(id, users.status())), 0);
    // Subscribed first, then read: a change in between arrives as a frame, never lost.
    presence_.Subscribe(s, *users);
    for (const auto& u : *users) s->Send(Shared(presence::PresenceFrame(presence_.Get(u))), 0);
  });
}

Result<std::vector<std::string>> ApiService::PresenceVisibleUsers(
    const std::string& viewer, const std::vector<std::string>& users) {
  std::vector<std::string> out;
  for (const std::string& raw : users) {
    auto user = NormalizeUserId(raw);
    // One answer for strangers, unknown users and those who blocked the viewer.
    if (!user.ok() || !relations_.MaySee(viewer, *user)) {
      return Forbidden("you may only see the presence of people you share a conversation with");
    }
    out.push_back(*user);
  }
  return out;
}

Result<std::vector<presence::PresenceState>> ApiService::VisiblePresence(
    const std::string& viewer, const std::vector<std::string>& users) {
  auto visible = PresenceVisibleUsers(viewer, users);
  if (!visible.ok()) return visible.status();
  std::vector<presence::PresenceState> out;
  for (const std::string& user : *visible) out.push_back(presence_.Get(user));
  return out;
}

}  // namespace parley::api
