// The message lifecycle: edits, deletes (for everyone / for me), reactions
// and the disappearing-messages setting. Every change that others must see is
// an event in the conversation's seq stream, checked and applied by the store
// atomically with the change to its target message (store::MessageChange), so
// it has the guarantees of a message: durable ack, idempotency by
// (sender, client_msg_id), seq order live and in sync and history.
//
// Channels do not fan out each reaction: a reaction there changes the counts
// without an entry, and every `reaction_flush_ms` one "reactions" event per
// changed message carries the current counts to every member.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "chat/chat_service.h"
#include "common/scheduler.h"

namespace parley::chat {

struct LifecycleOptions {
  int64_t edit_window_ms = 48LL * 3600 * 1000;    // senders edit their messages this long
  int64_t delete_window_ms = 48LL * 3600 * 1000;  // and delete them for everyone (admins: always)
  int64_t reaction_flush_ms = 1000;  // channels: aggregated counts; 0: only FlushReactions()
  int64_t idempotency_window_ms = 24LL * 3600 * 1000;
  int64_t max_disappear_after_s = 365LL * 24 * 3600;
};

struct SettingsResult {
  std::string conversation_id;
  uint64_t seq = 0;  // the settings_changed event; 0 when the value did not change
  int64_t disappear_after_s = 0;
};

class LifecycleService {
 public:
  LifecycleService(store::Store& store, ChatService& chat, directory::SessionDirectory& directory,
                   const Clock& clock, Scheduler& scheduler, LifecycleOptions options);
  ~LifecycleService();

  // Each answers with an ack: the target message_id and the event's seq
  // (0 when nothing was appended: no-ops, delete for me, channel reactions).
  void Edit(std::string user_id, protocol::EditFrame frame, std::string origin_session,
            AckCallback done);
  void Delete(std::string user_id, protocol::DeleteFrame frame, std::string origin_session,
              AckCallback done);
  void React(std::string user_id, protocol::ReactFrame frame, std::string origin_session,
             AckCallback done);

  // PUT /v1/conversations/{id}/settings {"disappear_after_s"}: any member of
  // a 1:1, an admin of a group or channel. Recorded as a settings_changed event.
  void SetDisappearAfter(std::string user_id, std::string conversation_id, int64_t seconds,
                         std::function<void(Result<SettingsResult>)> done);

  // Called after a conversation's disappearing timer is set (the retention job watches it).
  void SetTimerHook(std::function<void(const std::string& conversation_id)> hook) {
    timer_hook_ = std::move(hook);
  }

  // Appends the pending aggregated reaction events of channels now.
  void FlushReactions();
  // Flushes and stops the periodic flush.
  void Stop();

 private:
  store::AppendRequest ChangeRequest(const std::string& user_id, const std::string& conversation_id,
                                     uint64_t message_id, const std::string& client_msg_id,
                                     store::MessageChange::Op op, std::string kind);
  // Checks the conversation, then appends on its shard and acks.
  void Submit(store::AppendRequest request, std::string origin_session, AckCallback done,
              std::function<void(const store::AppendResult&)> after = nullptr);
  void TellOwnSessions(const store::HiddenRecord& hidden, const std::string& origin_session);
  void ScheduleFlush();

  store::Store& store_;
  ChatService& chat_;
  directory::SessionDirectory& directory_;
  const Clock& clock_;
  Scheduler& scheduler_;
  const LifecycleOptions options_;
  std::function<void(const std::string&)> timer_hook_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);

  std::mutex dirty_mu_;
  std::set<std::pair<std::string, uint64_t>> dirty_;  // guarded: (channel, message id)
};

}  // namespace parley::chat
