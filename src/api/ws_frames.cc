// WebSocket frames of SPEC section 4: decoded by the protocol codec, handed to
// chat, answered with ack/result/synced/error frames that echo the client id.
#include <spdlog/spdlog.h>

#include "api/api_service.h"
#include "protocol/server_frames.h"

namespace parley::api {
namespace {

std::shared_ptr<const std::string> Shared(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

}  // namespace

void ApiService::OnOpen(const gateway::PeerPtr& peer) {
  auto session = std::make_shared<ClientSession>(peer, clock_.NowMs());
  {
    std::lock_guard lock(sessions_mu_);
    sessions_[peer.get()] = session;
  }
  IndexCredential(peer->credential(), session);
  // A logout that ran between this session's authentication and the line
  // above did not see it: look at the token once more now that it is indexed.
  auth_pool_.Post([this, weak = std::weak_ptr<ClientSession>(session)] {
    auto s = weak.lock();
    if (s && !auth_.AuthenticateKey(s->credential()).ok()) s->Close(1008, "token revoked");
  });
  if (directory_.Add(session) == 1) {
    chat_.RunOrdered(peer->user_id(), [this, user = peer->user_id()] { presence_.UserConnected(user); });
  }
  // A client that sends nothing still gets live frames after a short wait.
  scheduler_.After(options_.initial_hold_ms,
                   [weak = std::weak_ptr<ClientSession>(session)] {
                     if (auto s = weak.lock()) s->ReleaseInitialHold();
                   });
  session->Send(Shared(protocol::ReadyFrame(peer->user_id(), peer->session_id(), options_.node_name,
                                            clock_.NowMs())),
                0);
}

void ApiService::OnClose(const gateway::PeerPtr& peer) {
  std::shared_ptr<ClientSession> session;
  {
    std::lock_guard lock(sessions_mu_);
    auto it = sessions_.find(peer.get());
    if (it == sessions_.end()) return;
    session = std::move(it->second);
    sessions_.erase(it);
  }
  UnindexCredential(peer->credential(), session.get());
  presence_.DropSubscriber(*session);
  if (directory_.Remove(*session) == 0) {
    chat_.RunOrdered(peer->user_id(),
                     [this, user = peer->user_id()] { presence_.UserDisconnected(user); });
  }
}

std::shared_ptr<ClientSession> ApiService::SessionOf(const gateway::PeerPtr& peer) {
  std::lock_guard lock(sessions_mu_);
  auto it = sessions_.find(peer.get());
  return it == sessions_.end() ? nullptr : it->second;
}

void ApiService::OnFrame(const gateway::PeerPtr& peer, std::string text) {
  auto session = SessionOf(peer);
  if (!session) return;
  auto decoded = protocol::DecodeClientFrame(text, options_.limits);
  std::string id = std::move(decoded.id_json);
  bool is_sync = decoded.body.ok() && std::holds_alternative<protocol::SyncFrame>(*decoded.body);
  if (!is_sync) session->ReleaseInitialHold();
  if (!decoded.body.ok()) {
    return session->Send(Shared(protocol::ErrorFrame(id, decoded.body.status())), 0);
  }
  std::visit(
      [&](auto&& frame) {
        using T = std::decay_t<decltype(frame)>;
        constexpr bool kWritesMessage =
            std::is_same_v<T, protocol::SendFrame> || std::is_same_v<T, protocol::EditFrame> ||
            std::is_same_v<T, protocol::DeleteFrame> || std::is_same_v<T, protocol::ReactFrame>;
        if constexpr (kWritesMessage) {
          if (Status s = AdmitAddressSend(peer->remote_address()); !s.ok()) {
            return session->Send(Shared(protocol::ErrorFrame(id, s)), 0);
          }
        }
        if constexpr (std::is_same_v<T, protocol::SendFrame>) {
          OnSend(session, id, std::move(frame));
        } else if constexpr (std::is_same_v<T, protocol::SyncFrame>) {
          OnSync(session, id, std::move(frame));
        } else if constexpr (std::is_same_v<T, protocol::HistoryFrame>) {
          OnHistory(session, id, std::move(frame));
        } else if constexpr (std::is_same_v<T, protocol::EditFrame> ||
                             std::is_same_v<T, protocol::DeleteFrame> ||
                             std::is_same_v<T, protocol::ReactFrame>) {
          OnLifecycle(session, id, std::move(frame));
        } else if constexpr (std::is_same_v<T, protocol::PingFrame>) {
          session->Send(Shared(protocol::PongFrame(id)), 0);
        } else if constexpr (std::is_same_v<T, protocol::AuthFrame>) {
          session->Send(Shared(protocol::ErrorFrame(id, BadRequest("already authenticated"))), 0);
        } else {
          OnRealtime(session, id, std::move(frame));
        }
      },
      std::move(*decoded.body));
}

chat::AckCallback ApiService::AckTo(const std::shared_ptr<ClientSession>& s, std::string id) {
  return [s, id = std::move(id)](Result<protocol::Ack> ack) {
    s->Send(
        Shared(ack.ok() ? protocol::AckFrame(id, *ack) : protocol::ErrorFrame(id, ack.status())),
        0);
  };
}

void ApiService::OnSend(const std::shared_ptr<ClientSession>& s, std::string id,
                        protocol::SendFrame f) {
  chat::SendRequest request{s->user_id(), std::move(f), s->session_id()};
  chat_.Send(std::move(request), AckTo(s, std::move(id)));
}

void ApiService::OnSync(const std::shared_ptr<ClientSession>& s, std::string id,
                        protocol::SyncFrame f) {
  if (!s->BeginSync()) {
    return s->Send(Shared(protocol::ErrorFrame(id, BadRequest("a sync is already running"))), 0);
  }
  auto sync = [this, s, id = std::move(id), cursor = std::move(f.cursor)] {
    chat_.Sync(s->user_id(), cursor, [s, id](Result<chat::SyncPage> page) {
      if (!page.ok()) return s->AbortSync(Shared(protocol::ErrorFrame(id, page.status())));
      std::string next = chat::ChatService::FormatCursor(page->cursor);
      std::string synced = R"({"op":"synced","cursor":")" + next + R"(","more":)" +
                           (page->more ? "true" : "false") + "}";
      s->EndSync(std::move(page->frames), Shared(protocol::WithId(synced, id)), page->cursor,
                 page->more);
    });
  };
  if (!directory_.clustered()) return sync();
  // In a cluster this node's route for the user must be in Redis before the
  // sync takes its snapshot, so that a message committed on another node after
  // the snapshot finds this node. The connect's registration is queued in
  // order with this user's tasks (OnOpen), then on the presence writer.
  chat_.RunOrdered(s->user_id(), [this, sync = std::move(sync)]() mutable {
    presence_.AfterPendingWrites(std::move(sync));
  });
}

void ApiService::OnHistory(const std::shared_ptr<ClientSession>& s, std::string id,
                           protocol::HistoryFrame f) {
  chat_.History(s->user_id(), f.conversation_id, f.before_seq, f.after_seq, f.limit,
                [s, id = std::move(id)](Result<std::vector<std::string>> page) {
                  if (!page.ok()) return s->Send(Shared(protocol::ErrorFrame(id, page.status())), 0);
                  std::string body = R"({"op":"result","messages":[)";
                  for (size_t i = 0; i < page->size(); ++i) {
                    if (i) body += ',';
                    body += (*page)[i];
                  }
                  body += "]}";
                  s->Send(Shared(protocol::WithId(std::move(body), id)), 0);
                });
}

}  // namespace parley::api
