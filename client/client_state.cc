// Client::Impl: outbox, receipts, typing/presence, gap filling and the
// persisted state.
#include <random>

#include "client/client_impl.h"
#include "client/state_store.h"

namespace parley::client {
using internal::Millis;

void Client::Impl::Write(json::object frame, const std::string& id) {
  if (!conn_ || !ready_) return;
  frame["id"] = id + std::to_string(++next_id_);
  WriteText(json::serialize(frame));
}

void Client::Impl::WriteText(std::string text) {
  if (options_.on_wire) options_.on_wire(true, text);
  conn_->Write(std::move(text));
}

void Client::Impl::StartSync() {
  syncing_ = true;
  live_frames_ = 0;
  json::object frame{{"op", "sync"}};
  if (!cursor_.empty()) frame["cursor"] = cursor_;
  Write(std::move(frame), "y:");
}

void Client::Impl::QueueSend(std::string client_msg_id, json::object frame) {
  outbox_.push_back(OutboxItem{std::move(client_msg_id), std::move(frame)});
  Persist();  // a queued message survives a crash of this process
  FlushOutbox();
}

void Client::Impl::FlushOutbox() {
  if (!live_) return;  // after the first sync: acks then land behind what sync brought
  for (OutboxItem& item : outbox_) {
    if (item.in_flight) continue;
    item.in_flight = true;
    json::object frame = item.frame;
    frame["id"] = "s:" + item.client_msg_id;
    WriteText(json::serialize(frame));
  }
}

void Client::Impl::ArmRetry() {
  if (retry_armed_) return;
  retry_armed_ = true;
  std::uniform_int_distribution<int64_t> jitter(500, 1500);
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  retry_timer_.expires_after(Millis(jitter(rng)));
  retry_timer_.async_wait([this](boost::system::error_code ec) {
    retry_armed_ = false;
    if (!ec && !stopping_) FlushOutbox();
  });
}

void Client::Impl::Release(std::vector<Sequenced> items) {
  if (items.empty()) return;
  for (Sequenced& item : items) {
    bool message = StrField(item.frame, "op") == "message";
    if (message && options_.send_delivered_receipts && StrField(item.frame, "sender") != user_id_) {
      uint64_t& mark = receipts_[{"delivered", item.conversation_id}];
      mark = std::max(mark, item.seq);
    }
    Emit(Event{message ? EventType::kMessage : EventType::kGroupEvent, item.conversation_id,
               item.seq, std::move(item.frame)});
  }
  MarkDirty();
  SendReceipts();
  UpdateSafeCursor();
  if (live_ && !syncing_ && options_.resync_after_live_frames > 0) {
    live_frames_ += items.size();
    if (live_frames_ >= options_.resync_after_live_frames) StartSync();  // advances the cursor
  }
}

void Client::Impl::QueueReceipt(const std::string& kind, const std::string& conversation_id,
                                uint64_t seq) {
  uint64_t& mark = receipts_[{kind, conversation_id}];
  mark = std::max(mark, seq);
  SendReceipts();
}

void Client::Impl::SendReceipts() {
  if (!ready_) return;  // kept until the next connection
  if (unsupported_.count("receipt")) return receipts_.clear();
  for (const auto& [key, seq] : receipts_) {
    Write({{"op", "receipt"},
           {"conversation_id", key.second},
           {"kind", key.first},
           {"up_to_seq", seq}},
          "r:");
  }
  receipts_.clear();
}

void Client::Impl::Typing(const std::string& conversation_id, bool typing) {
  if (unsupported_.count("typing")) return;
  Write({{"op", "typing"},
         {"conversation_id", conversation_id},
         {"state", typing ? "start" : "stop"}},
        "t:");
}

void Client::Impl::Presence(const std::vector<std::string>& users, bool subscribe) {
  json::array list;
  for (const auto& u : users) {
    list.emplace_back(u);
    if (subscribe) {
      presence_subs_.insert(u);
    } else {
      presence_subs_.erase(u);
    }
  }
  if (unsupported_.count("presence")) return;
  Write({{"op", subscribe ? "presence.subscribe" : "presence.unsubscribe"},
         {"users", std::move(list)}},
        "p:");
}

void Client::Impl::ArmGapTimer() {
  if (gap_armed_) return;
  gap_armed_ = true;
  gap_timer_.expires_after(options_.gap_fill_delay);
  gap_timer_.async_wait([this](boost::system::error_code ec) {
    gap_armed_ = false;
    if (!ec && !stopping_) FillGaps();
  });
}

void Client::Impl::FillGaps() {
  if (!live_) return;  // the end of the running sync re-arms
  for (const auto& [conversation, watermark] : ordering_.Gaps()) {
    if (!gap_requests_.insert(conversation).second) continue;
    json::object frame{{"op", "history"},
                       {"conversation_id", conversation},
                       {"after_seq", watermark},
                       {"limit", 200}};
    frame["id"] = "h:" + conversation;
    WriteText(json::serialize(frame));
  }
}

void Client::Impl::UpdateSafeCursor() {
  if (ordering_.held() == 0 && safe_cursor_ != cursor_) {
    safe_cursor_ = cursor_;
    MarkDirty();
  }
}

void Client::Impl::MarkDirty() {
  dirty_ = true;
  if (flush_armed_ || options_.state_file.empty()) return;
  flush_armed_ = true;
  flush_timer_.expires_after(Millis(200));
  flush_timer_.async_wait([this](boost::system::error_code ec) {
    flush_armed_ = false;
    if (dirty_) Persist();
  });
}

void Client::Impl::Persist() {
  dirty_ = false;
  if (options_.state_file.empty()) return;
  ClientState state{safe_cursor_, ordering_.watermarks(), {}};
  for (const OutboxItem& item : outbox_) state.outbox.push_back(item.frame);
  if (Status s = SaveState(options_.state_file, state); !s.ok()) {
    Emit(Event{EventType::kError, "", 0, {}, "cannot save the client state: " + s.message()});
  }
}

bool Client::Impl::LoadPersisted(std::string* error) {
  if (options_.state_file.empty()) return true;
  auto state = LoadState(options_.state_file);
  if (!state.ok()) {
    if (error) *error = state.status().message();
    return false;
  }
  cursor_ = safe_cursor_ = state->cursor;
  for (const auto& [conversation, seq] : state->seqs) ordering_.SetWatermark(conversation, seq);
  for (json::object& frame : state->outbox) {
    std::string id = StrField(frame, "client_msg_id");
    if (!id.empty()) outbox_.push_back(OutboxItem{id, std::move(frame)});
  }
  return true;
}

}  // namespace parley::client
