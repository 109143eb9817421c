// The domain: the send pipeline (resolution, idempotency and sequencing in the
// store's commit, durable ack), fan-out in seq order, sync, history and the
// conversation list. Depends on interfaces only (Store, SessionDirectory).
//
// Threads: `shards_` runs per-conversation work in order (send resolution and
// post-commit fan-out for one conversation always run on the same thread);
// `readers_` runs reads that may block on the store. Callbacks run on those
// threads and must not block.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "chat/conversation_cache.h"
#include "chat/relations.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/metrics.h"
#include "common/rate_limiter.h"
#include "common/worker_pool.h"
#include "directory/session_directory.h"
#include "protocol/frames.h"
#include "protocol/server_frames.h"
#include "store/store.h"

namespace parley::chat {

// An event entry (membership, settings, reaction counts) of `conversation_id`,
// ready to append; `actor` may be empty.
store::AppendRequest EventRequest(std::string conversation_id, std::string actor, std::string kind,
                                  int64_t ts);

struct ChatOptions {
  double send_rate = 100;   // messages per second per user
  double send_burst = 200;
  size_t sync_page_limit = 500;
  int64_t idempotency_window_ms = 24LL * 3600 * 1000;
  size_t shard_threads = 2;
  size_t reader_threads = 2;
  size_t fanout_batch = 1000;  // recipients per task: big channels yield the shard between batches
  size_t receipt_fanout_limit = 500;  // groups above it: members see only their own receipts
  // Conversations with at least this many members fan out to their online
  // members only (found from the directory) when fewer than a quarter are online.
  size_t sparse_fanout_min_members = 1000;
  bool push_outbox = false;  // messages record their pushes in the store's outbox (push enabled)
  // Cluster mode: other nodes append to the same store, so the sync index
  // reads the store instead of trusting what this node's commits taught it.
  bool shared_store = false;
};

struct SendRequest {
  std::string sender;
  protocol::SendFrame frame;
  std::string origin_session;  // not sent the `message` copy (it gets the ack)
};
using AckCallback = std::function<void(Result<protocol::Ack>)>;

struct SyncPage {
  std::vector<std::string> frames;  // serialized message/event frames, in version order
  uint64_t cursor = 0;              // pass back to continue after these
  bool more = false;                // another page is waiting
};

class ChatService {
 public:
  ChatService(store::Store& store, directory::SessionDirectory& directory, Relations& relations,
              const Clock& clock, Snowflake& ids, MetricsRegistry& metrics, ChatOptions options);

  // Called on a shard thread for every newly stored message (not events), in
  // the order added. Add hooks before the first Send.
  using StoredHook = std::function<void(const store::EntryRecord&, store::ConversationKind)>;
  void AddStoredHook(StoredHook hook) { stored_hooks_.push_back(std::move(hook)); }
  // Whether `user` may send `media_id` (NotFound: no), with the size of an
  // image when known. Set when the server stores media; called on a shard
  // thread and may block on the store.
  struct MediaInfo {
    uint32_t width = 0;
    uint32_t height = 0;
  };
  using MediaAccess =
      std::function<Result<MediaInfo>(const std::string& user, const std::string& media_id)>;
  void SetMediaAccess(MediaAccess access) { media_access_ = std::move(access); }
  ~ChatService();

  void Send(SendRequest request, AckCallback done);
  void Sync(std::string user_id, std::string cursor,
            std::function<void(Result<SyncPage>)> done);
  // A page of a conversation's stream as serialized frames, ascending seq.
  // With `after_seq` the oldest `limit` above it, else the newest below `before_seq` (0: none).
  void History(std::string user_id, std::string conversation_id, uint64_t before_seq,
               std::optional<uint64_t> after_seq, size_t limit,
               std::function<void(Result<std::vector<std::string>>)> done);
  // The JSON array of the user's conversations (SPEC section 3).
  void ListConversations(std::string user_id, std::function<void(Result<std::string>)> done);

  // Appends an event (membership change, rename) and, once it is durable,
  // fans it out in seq order like a message: to the members after the change
  // and to `also_to` (removed members, who see their own removal).
  void AppendEvent(store::AppendRequest request, std::vector<std::string> also_to,
                   std::function<void(Result<store::AppendResult>)> done);

  // Appends a lifecycle request (a change to a message, a settings event, a
  // purge: see store::MessageChange, PurgeRequest). Once durable, on the
  // conversation's shard: `done` first (the ack), then the stored entry, if
  // any, is fanned out in seq order like a message, except to `origin_session`.
  void AppendChange(store::AppendRequest request, std::string origin_session,
                    std::function<void(Result<store::AppendResult>)> done);
  // The conversation's kind and posting rule (cached); Forbidden when it does
  // not exist, the same answer as for a non-member.
  Result<ConversationInfo> KnownConversation(const std::string& conversation_id);
  // The per-user send rate limit, shared by sends and message changes.
  Status AdmitSend(const std::string& user_id);
  // Runs `task` on the conversation's shard, in order with its sends and fan-outs.
  void RunOnShard(std::string_view conversation_id, std::function<void()> task) {
    shards_.PostTo(conversation_id, std::move(task));
  }
  // Called on a reader thread for each media id that no live message
  // references any more (deleted for everyone or purged by retention).
  void SetMediaReleasedHook(std::function<void(const std::string& media_id)> hook) {
    media_released_hook_ = std::move(hook);
  }

  // Called on the store's commit thread, in commit order, for every commit
  // that moves a conversation's version (entries and receipts): keeps the
  // sync index exact without store reads.
  void NoteCommitted(const std::string& conversation_id, uint64_t version);

  // Cluster mode: a frame another node forwarded for sessions here. Entries
  // (seq set) are delivered in seq order per conversation, on its shard.
  void DeliverForwarded(directory::RemoteFrame frame);

  // Runs `task` on a reader thread (for other blocking domain calls).
  void RunBlocking(std::function<void()> task) { readers_.Post(std::move(task)); }
  // The same, in order with other tasks of the same key.
  void RunOrdered(std::string_view key, std::function<void()> task) {
    readers_.PostTo(key, std::move(task));
  }
  // Stops the worker threads after draining them. Call after the store is closed.
  void Shutdown();

  static Result<uint64_t> ParseCursor(std::string_view cursor);
  static std::string FormatCursor(uint64_t version);

 private:
  struct Resolved {
    std::string conversation_id;
    store::AppendRequest request;
  };
  Result<Resolved> Resolve(const SendRequest& request);
  Result<Resolved> ResolveDirect(const SendRequest& request, const std::string& peer);
  Result<MediaInfo> CheckMedia(const SendRequest& request);
  // Acks (or answers a duplicate / an error) and counts; runs on the commit thread.
  void AfterCommit(const SendRequest& request, int64_t accepted_ms,
                   const Result<store::AppendResult>& result, const AckCallback& done);
  void ReleaseMedia(std::vector<std::string> media_ids);
  void FanOut(const store::EntryRecord& entry, const std::string& origin_session,
              const std::vector<std::string>& also_to = {});
  void RunFanout(const std::string& conversation_id);
  // Current members, from the cache or the store.
  ConversationInfo Recipients(const std::string& conversation_id);
  // The members with a live session, when that is much cheaper to find than
  // walking all members (big channels, mostly offline); null otherwise.
  std::shared_ptr<const std::vector<MemberRef>> OnlineMembers(const ConversationInfo& members);
  std::shared_ptr<const std::vector<MemberRef>> MembersAt(const std::string& conversation_id,
                                                          const ConversationInfo& audience,
                                                          uint64_t seq);
  Result<store::MemberRecord> ReadableMembership(const std::string& user_id,
                                                 const std::string& conversation_id);
  // Cluster mode, on the conversation's shard: whether entry `seq` is the next
  // one this node delivers (false: delivered already). A gap below it is
  // filled from the store first. `changes_members`: the entry is a membership
  // event, so the cached member list is stale.
  bool Sequence(const std::string& conversation_id, uint64_t seq, bool changes_members);
  // Delivers the entries strictly between the two seqs (those written at or
  // after `not_before_ms`) to this node's sessions of their members.
  void FillGap(const std::string& conversation_id, uint64_t after_seq, uint64_t before_seq,
               int64_t not_before_ms);
  // Queues the frame to the local sessions of `users` but `except_session`
  // (and, with `written_at_ms`, but sessions opened after that time).
  void DeliverLocally(const std::vector<std::string>& users,
                      const std::shared_ptr<const std::string>& frame, uint64_t version,
                      const std::string& except_session, int64_t written_at_ms = 0);
  Result<SyncPage> SyncNow(const std::string& user_id, uint64_t after_version);
  Result<std::vector<std::string>> HistoryNow(const std::string& user_id,
                                              const std::string& conversation_id,
                                              uint64_t before_seq,
                                              std::optional<uint64_t> after_seq, size_t limit);
  Result<std::string> ListConversationsNow(const std::string& user_id);
  // The seqs `user_id` hid in the conversation; their `hidden` frames with
  // after < version <= snapshot are added to `out`.
  Result<std::set<uint64_t>> HiddenSeqs(const std::string& user_id,
                                        const std::string& conversation_id, uint64_t after,
                                        uint64_t snapshot,
                                        std::vector<std::pair<uint64_t, std::string>>& out);
  // Receipt frames of `conv` with after < version <= snapshot that `viewer` may see.
  Status AppendReceiptFrames(const std::string& viewer, const store::ConversationRecord& conv,
                             uint64_t after, uint64_t snapshot,
                             std::vector<std::pair<uint64_t, std::string>>& out);

  // The sync index: which conversations changed after a cursor, without
  // reading every conversation of the user from the store.
  uint64_t ConversationVersion(const std::string& conversation_id);
  Result<std::shared_ptr<const std::vector<store::MemberRecord>>> Memberships(
      const std::string& user_id);
  void InvalidateMemberships(const std::vector<std::string>& users);

  store::Store& store_;
  directory::SessionDirectory& directory_;
  Relations& relations_;
  std::mutex index_mu_;
  std::unordered_map<std::string, uint64_t> conversation_versions_;  // guarded by index_mu_
  struct UserIndex {
    uint64_t generation = 0;  // bumped on every membership change of the user
    std::shared_ptr<const std::vector<store::MemberRecord>> memberships;
  };
  std::unordered_map<std::string, UserIndex> users_;  // guarded by index_mu_
  // Highest version whose index updates are applied: what a sync may cover.
  std::atomic<uint64_t> applied_version_{0};
  std::vector<StoredHook> stored_hooks_;
  MediaAccess media_access_;
  std::function<void(const std::string&)> media_released_hook_;
  const Clock& clock_;
  Snowflake& ids_;
  const ChatOptions options_;
  RateLimiter send_limiter_;
  ConversationCache cache_;
  Counter& messages_in_;
  Counter& messages_out_;
  Counter& sparse_fanouts_;
  Counter& duplicates_;
  Histogram& send_ack_seconds_;
  // Fan-out jobs not yet finished, per conversation, oldest first.
  struct FanoutJob {
    std::shared_ptr<const std::string> frame;  // serialized once, shared by every recipient
    uint64_t version;
    uint64_t seq;
    std::shared_ptr<const std::vector<MemberRef>> members;  // current members
    std::vector<std::string> also_to;  // e.g. a removed member, for its removal event
    size_t next;
    std::string origin_session;
    // Cluster mode: false when the sequencer delivered it here already (a gap
    // fill); it still goes to the other nodes.
    bool deliver_here = true;
    std::string conversation_id;
    bool changes_members = false;
  };
  std::mutex fanout_mu_;
  std::unordered_map<std::string, std::deque<FanoutJob>> fanout_jobs_;  // guarded by fanout_mu_
  // Cluster mode: the last seq delivered here per conversation, and when
  // (steady ms). Forgotten after a while: a conversation that went quiet here
  // may have missed membership changes, so its members are read again.
  struct Delivered {
    uint64_t seq = 0;
    int64_t at_ms = 0;
  };
  std::mutex sequence_mu_;
  std::unordered_map<std::string, Delivered> delivered_;  // guarded by sequence_mu_
  Counter& gap_fills_;
  WorkerPool shards_;
  WorkerPool readers_;
};

}  // namespace parley::chat
