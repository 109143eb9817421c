#include "chat/lifecycle.h"

#include <spdlog/spdlog.h>

#include "chat/entry_codec.h"

namespace parley::chat {

using Op = store::MessageChange::Op;

LifecycleService::LifecycleService(store::Store& store, ChatService& chat,
                                   directory::SessionDirectory& directory, const Clock& clock,
                                   Scheduler& scheduler, LifecycleOptions options)
    : store_(store),
      chat_(chat),
      directory_(directory),
      clock_(clock),
      scheduler_(scheduler),
      options_(options) {
  ScheduleFlush();
}

LifecycleService::~LifecycleService() { Stop(); }

store::AppendRequest LifecycleService::ChangeRequest(const std::string& user_id,
                                                     const std::string& conversation_id,
                                                     uint64_t message_id,
                                                     const std::string& client_msg_id, Op op,
                                                     std::string kind) {
  store::AppendRequest r;
  store::EntryRecord& e = r.entry;
  e.conversation_id = conversation_id;
  e.is_event = true;
  e.kind = std::move(kind);
  e.actor = user_id;
  e.sender = user_id;  // the idempotency key is (sender, client_msg_id), as for sends
  e.message_id = message_id;
  e.client_msg_id = client_msg_id;
  e.ts = clock_.NowMs();
  r.require_member = user_id;
  r.idempotent = true;
  r.idempotency_window_ms = options_.idempotency_window_ms;
  store::MessageChange change;
  change.op = op;
  change.message_id = message_id;
  change.actor = user_id;
  r.change = std::move(change);
  return r;
}

void LifecycleService::Submit(store::AppendRequest request, std::string origin_session,
                              AckCallback done,
                              std::function<void(const store::AppendResult&)> after) {
  if (Status admitted = chat_.AdmitSend(request.entry.sender); !admitted.ok()) {
    return done(admitted);
  }
  std::string conversation_id = request.entry.conversation_id;
  chat_.RunOnShard(
      conversation_id, [this, request = std::move(request), origin = std::move(origin_session),
                        done = std::move(done), after = std::move(after)]() mutable {
        auto known = chat_.KnownConversation(request.entry.conversation_id);
        if (!known.ok()) return done(known.status());
        chat_.AppendChange(
            std::move(request), std::move(origin),
            [done = std::move(done), after = std::move(after)](Result<store::AppendResult> r) {
              if (!r.ok()) return done(r.status());
              if (const auto& dup = r->duplicate_of) {
                return done(protocol::Ack{dup->client_msg_id, dup->conversation_id, dup->message_id,
                                          dup->seq, dup->ts});
              }
              if (after && r->changed) after(*r);
              const store::EntryRecord& e = r->entry;
              done(protocol::Ack{e.client_msg_id, e.conversation_id, e.message_id, e.seq, e.ts});
            });
      });
}

void LifecycleService::Edit(std::string user_id, protocol::EditFrame f, std::string origin_session,
                            AckCallback done) {
  auto r =
      ChangeRequest(user_id, f.conversation_id, f.message_id, f.client_msg_id, Op::kEdit, "edited");
  r.entry.content = std::move(f.content);
  r.change->sender_window_ms = options_.edit_window_ms;
  Submit(std::move(r), std::move(origin_session), std::move(done));
}

void LifecycleService::Delete(std::string user_id, protocol::DeleteFrame f,
                              std::string origin_session, AckCallback done) {
  if (!f.for_everyone) {  // for me: no event others see, a `hidden` frame to my other sessions
    auto r =
        ChangeRequest(user_id, f.conversation_id, f.message_id, f.client_msg_id, Op::kHide, "");
    return Submit(std::move(r), origin_session, std::move(done),
                  [this, origin_session](const store::AppendResult& result) {
                    if (result.hidden) TellOwnSessions(*result.hidden, origin_session);
                  });
  }
  auto r = ChangeRequest(user_id, f.conversation_id, f.message_id, f.client_msg_id, Op::kDelete,
                         "deleted");
  r.change->sender_window_ms = options_.delete_window_ms;
  r.change->admin_may_delete = true;  // direct conversations have no admins
  Submit(std::move(r), std::move(origin_session), std::move(done));
}

void LifecycleService::React(std::string user_id, protocol::ReactFrame f,
                             std::string origin_session, AckCallback done) {
  bool channel = KindOfConversation(f.conversation_id) == store::ConversationKind::kChannel;
  auto r = ChangeRequest(user_id, f.conversation_id, f.message_id, f.client_msg_id, Op::kReact,
                         "reaction");
  r.entry.emoji = f.emoji;
  r.change->emoji = std::move(f.emoji);
  r.change->stream_entry = !channel;
  std::function<void(const store::AppendResult&)> after;
  if (channel) {
    after = [this](const store::AppendResult& result) {
      std::lock_guard lock(dirty_mu_);
      dirty_.emplace(result.entry.conversation_id, result.entry.message_id);
    };
  }
  Submit(std::move(r), std::move(origin_session), std::move(done), std::move(after));
}

void LifecycleService::TellOwnSessions(const store::HiddenRecord& hidden,
                                       const std::string& origin_session) {
  auto frame = std::make_shared<const std::string>(EncodeHidden(hidden));
  directory_.SendToUsers({hidden.user_id}, frame, hidden.version, origin_session);
}

void LifecycleService::SetDisappearAfter(std::string user_id, std::string conversation_id,
                                         int64_t seconds,
                                         std::function<void(Result<SettingsResult>)> done) {
  if (seconds < 0 || seconds > options_.max_disappear_after_s) {
    return done(BadRequest("disappear_after_s must be 0 (off) to " +
                           std::to_string(options_.max_disappear_after_s) + " seconds"));
  }
  chat_.RunOnShard(conversation_id, [this, user_id = std::move(user_id), conversation_id, seconds,
                                     done = std::move(done)]() mutable {
    auto known = chat_.KnownConversation(conversation_id);
    if (!known.ok()) return done(known.status());
    store::AppendRequest r =
        EventRequest(conversation_id, user_id, "settings_changed", clock_.NowMs());
    r.entry.disappear_after_s = seconds;
    r.require_member = user_id;
    if (known->kind != store::ConversationKind::kDirect) r.require_admin = user_id;
    r.set_disappear_after_s = seconds;
    chat_.AppendChange(std::move(r), "",
                       [this, done = std::move(done), seconds](Result<store::AppendResult> result) {
                         if (!result.ok()) return done(result.status());
                         const std::string& id = result->entry.conversation_id;
                         if (seconds > 0 && timer_hook_) timer_hook_(id);
                         done(SettingsResult{id, result->entry.seq, seconds});
                       });
  });
}

void LifecycleService::FlushReactions() {
  std::set<std::pair<std::string, uint64_t>> batch;
  {
    std::lock_guard lock(dirty_mu_);
    batch.swap(dirty_);
  }
  for (const auto& [conversation_id, message_id] : batch) {
    store::AppendRequest r = EventRequest(conversation_id, "", "reactions", clock_.NowMs());
    r.entry.message_id = message_id;
    store::MessageChange change;
    change.op = Op::kCounts;  // the store fills in the counts as of the commit
    change.message_id = message_id;
    r.change = std::move(change);
    chat_.AppendChange(std::move(r), "", [conversation_id](Result<store::AppendResult> result) {
      // A message deleted or purged since has no counts to announce.
      if (!result.ok() && result.status().code() != Code::kNotFound) {
        spdlog::warn("event=reaction_counts_failed conversation={} error=\"{}\"", conversation_id,
                     result.status().ToString());
      }
    });
  }
}

void LifecycleService::ScheduleFlush() {
  if (options_.reaction_flush_ms <= 0) return;
  scheduler_.After(options_.reaction_flush_ms, [this, alive = alive_] {
    if (!*alive) return;
    FlushReactions();
    ScheduleFlush();
  });
}

void LifecycleService::Stop() {
  if (alive_->exchange(false)) FlushReactions();
}

}  // namespace parley::chat
