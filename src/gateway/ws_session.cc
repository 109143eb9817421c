#include <spdlog/spdlog.h>

#include "gateway/internal.h"
#include "protocol/frames.h"
#include "protocol/server_frames.h"

namespace parley::gateway {

WsSession::WsSession(Transport stream, Gateway::Impl& gw, Identity identity,
                     Admission::Slot connection, Admission::Slot handshake)
    : ws_(std::move(stream)),
      gw_(gw),
      connection_(std::move(connection)),
      handshake_(std::move(handshake)),
      user_id_(std::move(identity.user_id)),
      credential_(std::move(identity.credential)),
      session_id_(gw.options.node_name + "-" + std::to_string(gw.next_session++)),
      auth_timer_(ws_.get_executor()) {
  beast::error_code ec;
  remote_address_ = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec).address().to_string();
}

WsSession::~WsSession() { gw_.Unregister(this); }

void WsSession::Accept(http::request<http::string_body> req) {
  gw_.Register(this);
  auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
  timeouts.idle_timeout = std::chrono::seconds(gw_.options.ws_idle_timeout_s);
  timeouts.keep_alive_pings = true;
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "parley"); }));
  ws_.read_message_max(gw_.options.max_frame_bytes);
  // No permessage-deflate: a small compressed frame cannot inflate into a big
  // one (a client that sets the compression bit anyway is a protocol error).
  websocket::permessage_deflate no_deflate;
  no_deflate.server_enable = false;
  ws_.set_option(no_deflate);
  beast::get_lowest_layer(ws_).expires_never();  // the websocket timeouts take over
  auto shared_req = std::make_shared<http::request<http::string_body>>(std::move(req));
  ws_.async_accept(*shared_req, [self = shared_from_this(), shared_req](beast::error_code ec) {
    self->OnAccept(ec);
  });
}

void WsSession::OnAccept(beast::error_code ec) {
  if (ec) return Finish();
  if (!user_id_.empty()) {
    Open();
  } else {
    auth_timer_.expires_after(std::chrono::seconds(gw_.options.auth_timeout_s));
    auth_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && self->user_id_.empty()) self->DoClose(1008, "authentication timed out");
    });
  }
  DoRead();
}

void WsSession::Open() {
  handshake_.reset();
  auto slot = gw_.admission.OpenSession(user_id_);
  if (!slot.ok()) {  // the user's sessions on this node are at their cap
    gw_.refused_user_sessions.Inc();
    Enqueue(std::make_shared<const std::string>(protocol::ErrorFrame("", slot.status())));
    return DoClose(1008, "too many sessions");
  }
  user_session_ = std::move(*slot);
  opened_ = true;
  gw_.connections.Add(1);
  gw_.service.OnOpen(shared_from_this());
}

void WsSession::DoRead() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t bytes) {
    self->OnRead(ec, bytes);
  });
}

void WsSession::OnRead(beast::error_code ec, size_t bytes) {
  if (ec == websocket::error::message_too_big) {
    gw_.oversize_frames.Inc();  // Beast has already sent the 1009 close frame
    return Finish();
  }
  if (ec) return Finish();
  gw_.frames_in.Inc();
  std::string text = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  // Beast prepares up to 1.5 KiB here again for the next read; keep only big
  // messages from pinning their buffers.
  if (buffer_.capacity() > 4096) buffer_.shrink_to_fit();
  if (!ws_.got_text()) {
    Enqueue(std::make_shared<const std::string>(
        protocol::ErrorFrame("", BadRequest("binary frames are not supported; send JSON text"))));
  } else if (user_id_.empty()) {
    return HandleAuthFrame(text);  // reading resumes once authenticated
  } else if (opened_) {
    gw_.service.OnFrame(shared_from_this(), std::move(text));
  }  // else refused by Open() and closing
  if (!closing_) DoRead();
}

void WsSession::HandleAuthFrame(const std::string& text) {
  auto decoded = protocol::DecodeClientFrame(text, protocol::Limits{});
  if (!decoded.body.ok() || !std::holds_alternative<protocol::AuthFrame>(*decoded.body)) {
    Enqueue(std::make_shared<const std::string>(
        protocol::ErrorFrame(decoded.id_json, Unauthorized("the first frame must be auth"))));
    return DoClose(1008, "authentication required");
  }
  std::string token = std::get<protocol::AuthFrame>(*decoded.body).token;
  gw_.service.Authenticate(token, [self = shared_from_this(), id = decoded.id_json](Result<Identity> user) {
    net::post(self->ws_.get_executor(), [self, id, user = std::move(user)] {
      if (self->closing_) return;
      if (!user.ok()) {
        self->Enqueue(std::make_shared<const std::string>(protocol::ErrorFrame(id, user.status())));
        return self->DoClose(1008, "authentication failed");
      }
      self->auth_timer_.cancel();
      self->user_id_ = user->user_id;
      self->credential_ = user->credential;
      self->Open();
      self->DoRead();
    });
  });
}

void WsSession::Send(std::shared_ptr<const std::string> frame, uint64_t /*version*/) {
  net::post(ws_.get_executor(),
            [self = shared_from_this(), frame = std::move(frame)]() mutable {
              self->Enqueue(std::move(frame));
            });
}

void WsSession::Enqueue(std::shared_ptr<const std::string> frame) {
  if (closing_) return;
  if (queued_bytes_ + frame->size() > gw_.options.max_outbound_bytes) {
    gw_.slow_consumers.Inc();
    return DoClose(1013, "too slow: reconnect and sync");
  }
  queued_bytes_ += frame->size();
  queue_.push_back(std::move(frame));
  if (!writing_) DoWrite();
}

void WsSession::DoWrite() {
  writing_ = true;
  ws_.text(true);
  ws_.async_write(net::buffer(*queue_[queue_head_]),
                  [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
}

void WsSession::OnWrite(beast::error_code ec) {
  writing_ = false;
  if (ec || queue_.empty()) return Finish();  // empty: Finish() ran while the write was in flight
  queued_bytes_ -= queue_[queue_head_]->size();
  queue_[queue_head_++].reset();
  if (queue_head_ == queue_.size()) {
    queue_.clear();
    queue_head_ = 0;
    if (queue_.capacity() > 16) queue_.shrink_to_fit();  // a burst is over: give it back
    return;
  }
  if (queue_head_ >= 64 && queue_head_ * 2 >= queue_.size()) {  // never drained: compact
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_));
    queue_head_ = 0;
  }
  if (!closing_) DoWrite();
}

void WsSession::Close(uint16_t code, std::string reason) {
  net::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    self->DoClose(code, reason);
  });
}

void WsSession::DoClose(uint16_t code, std::string reason) {
  if (closing_) return;
  closing_ = true;
  auth_timer_.cancel();
  websocket::close_reason cr;
  cr.code = code;
  cr.reason = reason;
  ws_.async_close(cr, [self = shared_from_this()](beast::error_code) { self->Finish(); });
}

void WsSession::Finish() {
  if (finished_) return;
  finished_ = true;
  closing_ = true;
  queue_.clear();
  queue_head_ = 0;
  if (opened_) {
    gw_.connections.Add(-1);
    gw_.service.OnClose(shared_from_this());
  }
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
}

}  // namespace parley::gateway
