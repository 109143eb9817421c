// The durable state of Parley behind one interface, so that the embedded
// RocksDB store and the networked PostgreSQL store are interchangeable and the
// chat logic never sees either.
//
// Data model (like a wide-column store): a conversation is a partition whose
// rows are its entries (messages and membership events) clustered by `seq`.
// The store is the single writer of each conversation: it assigns `seq` (gap-free,
// strictly increasing per conversation) and a global `version` (strictly
// increasing in commit order across all conversations, used as the sync
// cursor) inside the commit, and checks the preconditions of an append
// (membership, caps, idempotency) atomically with it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "common/status.h"

namespace parley::store {

enum class ConversationKind { kDirect, kGroup, kChannel };
std::string_view KindName(ConversationKind kind);
std::optional<ConversationKind> ParseKind(std::string_view name);

enum class Role { kMember, kAdmin };
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

struct UserRecord {
  std::string user_id;
  std::string display_name;
  std::string password_hash;  // argon2id string as produced by libsodium
  int64_t created_at = 0;
  int64_t last_seen = 0;      // written once when the user's last session closes
  bool show_last_seen = true;
};

struct TokenRecord {
  std::string token_hash;  // hex SHA-256 of the bearer token; the token itself is never stored
  std::string user_id;
  std::string device;
  int64_t created_at = 0;
  int64_t expires_at = 0;
};

struct ConversationRecord {
  std::string conversation_id;
  ConversationKind kind = ConversationKind::kDirect;
  std::string name;
  std::string posting = "all";  // channels: "all" or "admins"
  std::string created_by;
  int64_t created_at = 0;
  uint64_t last_seq = 0;
  uint64_t last_version = 0;
  uint32_t member_count = 0;
  int64_t disappear_after_s = 0;  // disappearing-messages timer; 0: off
  uint64_t purged_seq = 0;        // entries up to this seq were deleted by retention
};

// One user's membership of one conversation. Kept after the user leaves (with
// left_seq set) so that it can still read what it saw while it was a member.
struct MemberRecord {
  std::string conversation_id;
  std::string user_id;
  Role role = Role::kMember;
  uint64_t joined_seq = 0;  // first seq the member may read
  uint64_t left_seq = 0;    // 0 while a member; else the seq of its removal event
  int64_t joined_at = 0;
  bool current() const { return left_seq == 0; }
};

// An entry of a conversation's ordered stream: a message or an event.
struct EntryRecord {
  std::string conversation_id;
  uint64_t seq = 0;      // assigned by the store
  uint64_t version = 0;  // assigned by the store
  int64_t ts = 0;
  bool is_event = false;
  // Messages.
  uint64_t message_id = 0;
  std::string sender;
  std::string type;
  std::string content;
  std::string client_msg_id;
  std::string media_id;
  uint32_t media_width = 0;   // of an image's media_id, when known
  uint32_t media_height = 0;
  std::string reply_to;       // a message id of the same conversation (checked by the store)
  std::string reply_sender;   // reply_to set: the quoted message's sender and the start of
  std::string reply_preview;  // its content, copied by the store ("" once it is deleted)
  int64_t edited_at = 0;      // time of the latest edit; 0: never edited
  // Deleted for everyone: content, media and reactions are gone (a tombstone).
  // On an "edited" event: the edit's content was scrubbed with its message.
  bool deleted = false;
  // Messages: reaction counts by emoji. "reaction"/"reactions" events: the
  // counts after the change.
  std::map<std::string, uint32_t> reactions;
  // Events: kind is "created", "member_added", "member_removed", "member_left",
  // "renamed", "role_changed", or of the message lifecycle "edited", "deleted",
  // "reaction", "reactions" (channels: aggregated counts) and "settings_changed".
  // Lifecycle events name their target message in message_id.
  std::string kind;
  std::string actor;
  std::string user_id;
  std::string name;
  std::string role;     // role_changed: the new role
  std::string posting;  // renamed: the new channel posting rule, when it changed
  std::string promoted;  // member_left/removed: who became admin because none was left
  std::string emoji;    // reaction: the actor's reaction ("" when cleared)
  int64_t disappear_after_s = -1;  // settings_changed: the new timer (0: off); else -1
};

// A message one member hid from itself ("delete for me"). `version` orders it
// with entries for that member's sync.
struct HiddenRecord {
  std::string conversation_id;
  std::string user_id;
  uint64_t seq = 0;
  uint64_t message_id = 0;
  uint64_t version = 0;
  int64_t hidden_at = 0;
};

// A member's receipt watermarks in a conversation. They never go backwards;
// read implies delivered. `version` orders them with entries for sync.
struct ReceiptRecord {
  std::string conversation_id;
  std::string user_id;
  uint64_t delivered_seq = 0;
  uint64_t read_seq = 0;
  uint64_t version = 0;
  int64_t updated_at = 0;
};

// What an idempotent send returned the first time: the original ack.
struct IdempotencyRecord {
  std::string sender;
  std::string client_msg_id;
  std::string conversation_id;
  uint64_t message_id = 0;
  uint64_t seq = 0;
  int64_t ts = 0;
};

// A change to an earlier message of the conversation, checked and applied by
// the store atomically with the append. The target must be a message the
// actor can see (seq >= its joined_seq), else NotFound. Unless said otherwise
// the request's entry is the event that records the change (kind set by the
// caller, message_id = the target); the store rewrites the target so that
// history shows its latest state.
struct MessageChange {
  enum class Op {
    kEdit,    // entry.content replaces the content (sender only, within the window)
    kDelete,  // for everyone: a tombstone; edits and reply previews of it are scrubbed
    kReact,   // set (emoji) or clear ("") the actor's one reaction; counts on the target
    kHide,    // delete for me: no entry; a HiddenRecord with the next version
    kCounts,  // an event carrying the target's current reaction counts (channels)
  };
  Op op = Op::kEdit;
  uint64_t message_id = 0;
  std::string actor;
  // kEdit, kDelete by the sender: allowed while entry.ts - target.ts < this.
  int64_t sender_window_ms = 0;
  bool admin_may_delete = false;  // kDelete: a current admin may delete any message, any time
  std::string emoji;
  bool stream_entry = true;  // kReact: false stores the reaction and counts without an entry
};

// Retention: deletes the conversation's entries with seq <= up_to_seq (one
// range delete per key space) instead of appending. `messages` lists the
// messages among them as the caller read them, for their index keys.
struct PurgedMessage {
  uint64_t seq = 0;
  uint64_t message_id = 0;
  std::string media_id;
};
struct PurgeRequest {
  uint64_t up_to_seq = 0;
  std::vector<PurgedMessage> messages;
};

// --- Push notifications (src/push) ---

// A push target of a user. (platform, token, url) names one physical target:
// registering it again for another user moves it (a phone changes hands).
struct DeviceRecord {
  std::string device_id;
  std::string user_id;
  std::string platform;  // "apns", "fcm" or "webhook"
  std::string token;     // apns/fcm: the provider's device token; webhook: optional
  std::string url;       // webhook only
  std::string app_id;    // optional: apns topic (bundle id) override
  int64_t created_at = 0;
};

// What PutDevice did: the record as stored, and a registration it displaced
// (the same target registered by another user before).
struct DevicePut {
  DeviceRecord stored;
  bool existed = false;  // the same user had registered this target already: nothing changed
  std::optional<DeviceRecord> displaced;
};

// A pending notification to one device about one conversation: messages that
// arrive before it is sent are coalesced into it (count, latest sender).
struct PushJobRecord {
  std::string job_id;
  std::string user_id;
  std::string device_id;
  std::string conversation_id;
  std::string sender;   // of the latest message
  std::string preview;  // of the latest message; empty unless previews are full
  uint32_t count = 0;   // messages coalesced into this notification
  uint64_t last_seq = 0;
  int64_t created_at = 0;
  int64_t due_at = 0;   // ms: not sent before this (coalescing window, retry backoff)
  uint32_t attempts = 0;
};

// An uploaded file. Its bytes live outside the store, named by sha256; several
// uploads of the same bytes are several records sharing one file.
struct MediaRecord {
  std::string media_id;
  std::string sha256;  // lower-case hex of the bytes
  uint64_t size = 0;
  std::string content_type;
  std::string uploader;
  std::string file_name;  // safe for Content-Disposition; may be empty
  int64_t created_at = 0;
  uint32_t width = 0;  // images whose header could be read; else 0
  uint32_t height = 0;
};

// A conversation carried a media id: readers of that message may read it.
struct MediaRefRecord {
  std::string media_id;
  std::string conversation_id;
  uint64_t seq = 0;  // the latest message of the conversation that carried it
  int64_t ts = 0;
};

// One append to a conversation's stream, with the records that change with
// it. Preconditions are checked by the store atomically with the append; when
// one fails, nothing of the request is written.
struct AppendRequest {
  EntryRecord entry;  // conversation_id set; seq and version are assigned

  // Create the conversation with these fields if it does not exist yet.
  std::optional<ConversationRecord> create_if_missing;

  // Fail with Forbidden unless this user is a current member (empty: no check).
  std::string require_member;
  // Fail with Forbidden unless this user is a current admin (empty: no check).
  std::string require_admin;
  // The conversation must exist (or be created by create_if_missing): else NotFound.

  // Membership changes effective at this entry's seq, applied in this order.
  // Adding a current member is a no-op; removing or setting the role of a
  // user who is not a current member (after the adds) fails with NotFound.
  std::vector<MemberRecord> add_members;      // joined_seq is set to the entry's seq
  std::vector<std::string> remove_members;    // left_seq is set to the entry's seq
  std::vector<std::pair<std::string, Role>> set_roles;
  // After the changes above: if no current admin is left but members are,
  // the member with the lowest joined_seq (then user id) becomes admin.
  bool promote_if_no_admin = false;
  uint32_t max_members = 0;  // 0: no cap; else Conflict when adding would exceed it

  // Conversation fields to change (rename, posting).
  std::optional<std::string> set_name;
  std::optional<std::string> set_posting;

  // For messages: when (entry.sender, entry.client_msg_id) was appended within
  // `idempotency_window_ms` before entry.ts, append nothing and return that
  // original record as `duplicate_of`.
  bool idempotent = false;
  int64_t idempotency_window_ms = 24LL * 3600 * 1000;

  // A message whose entry.media_id is set also records the reference
  // (MediaRefRecord) atomically with it; it fails with Forbidden when no such
  // media exists (never uploaded, or collected as garbage).

  // Instead of an entry: raise this member's receipt watermarks (merged as
  // maxima with what is stored, read implying delivered, clamped to the
  // conversation's last_seq). No seq is used; a changed receipt gets the next
  // version. entry.conversation_id must name the conversation; the user must
  // be a member (else Forbidden).
  std::optional<ReceiptRecord> receipt;

  // Lifecycle (see MessageChange, PurgeRequest). A message with
  // entry.reply_to set always has it checked: a message of this conversation
  // the sender can see, else NotFound.
  std::optional<MessageChange> change;
  std::optional<int64_t> set_disappear_after_s;  // settings_changed events
  std::optional<PurgeRequest> purge;

  // Messages: also record (conversation, seq) in the push outbox in the same
  // batch, so a crash after the commit cannot lose the message's pushes.
  bool push_outbox = false;
};

struct AppendResult {
  EntryRecord entry;  // as stored, with seq and version (a duplicate: as requested, unstored)
  std::optional<IdempotencyRecord> duplicate_of;
  bool conversation_created = false;
  // For receipt requests: the watermarks as stored; `changed` false when the
  // request raised nothing (nothing was written).
  std::optional<ReceiptRecord> receipt;
  bool changed = false;  // change and purge requests too: false when nothing was written
  // Change requests: the target message as stored after the request.
  std::optional<EntryRecord> target;
  std::optional<HiddenRecord> hidden;  // kHide
  // Media ids that a conversation stopped carrying (its last live message
  // with the media was deleted or purged): its MediaRefRecord is gone with
  // it, so its members lose access; media no conversation carries any more
  // is listed by ListUnreferencedMedia for the media GC.
  std::vector<std::string> released_media;
};

using AppendCallback = std::function<void(Result<AppendResult>)>;

struct StoreOptions {
  bool sync_writes = true;             // --durability fsync (true) | os (false)
  MetricsRegistry* metrics = nullptr;  // commit latency and batch size, when set
};

// Read/write interface. Reads are synchronous and may block on I/O: call them
// from worker threads, never from an io thread. Append is asynchronous; its
// callback runs on a store thread after the write is durable, in commit order,
// and must not block.
class Store {
 public:
  virtual ~Store() = default;

  // Users.
  virtual Status CreateUser(const UserRecord& user) = 0;  // Conflict when taken
  virtual Result<UserRecord> GetUser(std::string_view user_id) = 0;
  virtual Status UpdateUser(const UserRecord& user) = 0;  // NotFound when absent

  // Bearer tokens, by hash.
  virtual Status PutToken(const TokenRecord& token) = 0;
  virtual Result<TokenRecord> GetToken(std::string_view token_hash) = 0;
  virtual Status DeleteToken(std::string_view token_hash) = 0;

  // Conversations and their ordered streams.
  virtual void Append(AppendRequest request, AppendCallback done) = 0;
  virtual Result<ConversationRecord> GetConversation(std::string_view conversation_id) = 0;
  // The membership record, current or former; NotFound if never a member.
  virtual Result<MemberRecord> GetMember(std::string_view conversation_id,
                                         std::string_view user_id) = 0;
  // Current members ordered by user id, starting after `after_user`.
  virtual Result<std::vector<MemberRecord>> ListMembers(std::string_view conversation_id,
                                                        std::string_view after_user,
                                                        size_t limit) = 0;
  // Every conversation the user is or was a member of (current and former).
  virtual Result<std::vector<MemberRecord>> ListUserConversations(std::string_view user_id) = 0;
  // Entries with after_seq < seq < before_seq (before_seq 0: no upper bound).
  // newest_first picks which end of the range the `limit` entries come from;
  // the result is always in ascending seq.
  virtual Result<std::vector<EntryRecord>> ReadEntries(std::string_view conversation_id,
                                                       uint64_t after_seq, uint64_t before_seq,
                                                       size_t limit, bool newest_first) = 0;
  // Entries with version > after_version, ascending, at most `limit`.
  virtual Result<std::vector<EntryRecord>> ReadSinceVersion(std::string_view conversation_id,
                                                            uint64_t after_version,
                                                            size_t limit) = 0;
  virtual Result<IdempotencyRecord> GetIdempotency(std::string_view sender,
                                                   std::string_view client_msg_id) = 0;
  // Every member's receipt watermarks in the conversation (members that sent none are absent).
  virtual Result<std::vector<ReceiptRecord>> ListReceipts(std::string_view conversation_id) = 0;

  // Message lifecycle.
  // The message with this id in the conversation (NotFound when absent, purged or not a message).
  virtual Result<EntryRecord> GetMessage(std::string_view conversation_id, uint64_t message_id) = 0;
  // The messages `user_id` hid from itself in the conversation, ascending seq.
  virtual Result<std::vector<HiddenRecord>> ListHidden(std::string_view conversation_id,
                                                       std::string_view user_id) = 0;
  // True while a message that is neither deleted nor purged carries `media_id`.
  virtual Result<bool> HasLiveMediaReference(std::string_view media_id) = 0;
  // Conversations ordered by id, starting after `after_id` (for the retention job).
  virtual Result<std::vector<ConversationRecord>> ListConversations(std::string_view after_id,
                                                                    size_t limit) = 0;

  // Blocks: `blocker` refuses `blocked`.
  virtual Status SetBlocked(std::string_view blocker, std::string_view blocked, bool on) = 0;
  virtual Result<bool> IsBlocked(std::string_view blocker, std::string_view blocked) = 0;
  virtual Result<std::vector<std::string>> ListBlocked(std::string_view blocker) = 0;

  // Push notifications (src/push): devices, pending push jobs, the outbox of
  // messages whose pushes are not planned yet, and per-user conversation mutes.
  virtual Result<DevicePut> PutDevice(const DeviceRecord& device) = 0;
  virtual Result<DeviceRecord> GetDevice(std::string_view user_id, std::string_view device_id) = 0;
  virtual Result<std::vector<DeviceRecord>> ListDevices(std::string_view user_id) = 0;
  // NotFound unless the user has that device.
  virtual Status DeleteDevice(std::string_view user_id, std::string_view device_id) = 0;
  virtual Status PutPushJob(const PushJobRecord& job) = 0;
  virtual Status DeletePushJob(std::string_view job_id) = 0;
  virtual Result<std::vector<PushJobRecord>> ListPushJobs() = 0;
  // (conversation, seq) of messages appended with push_outbox, oldest first per conversation.
  virtual Result<std::vector<std::pair<std::string, uint64_t>>> ListPushOutbox() = 0;
  virtual Status DeletePushOutbox(std::string_view conversation_id, uint64_t seq) = 0;
  virtual Status SetMuted(std::string_view user_id, std::string_view conversation_id,
                          bool muted) = 0;
  virtual Result<bool> IsMuted(std::string_view user_id, std::string_view conversation_id) = 0;
  // Media metadata and references (the bytes are kept by the media component).
  virtual Status PutMedia(const MediaRecord& media) = 0;  // Conflict when the id is taken
  virtual Result<MediaRecord> GetMedia(std::string_view media_id) = 0;
  // The conversations whose messages carried the media.
  virtual Result<std::vector<MediaRefRecord>> ListMediaRefs(std::string_view media_id) = 0;
  // Media no message ever carried, created before `created_before`, oldest first.
  virtual Result<std::vector<MediaRecord>> ListUnreferencedMedia(int64_t created_before,
                                                                 size_t limit) = 0;
  // Deletes the media record unless a message carries it, atomically with
  // appends (a send racing the deletion either records its reference first
  // or fails). True when it was deleted.
  virtual Result<bool> DeleteUnreferencedMedia(std::string_view media_id) = 0;
  // Whether any media record names these bytes.
  virtual Result<bool> HasMediaWithSha256(std::string_view sha256) = 0;

  // Highest version whose append is durable (raised before its callback runs).
  virtual uint64_t CommittedVersion() const = 0;
  // The same over every server writing the store (PostgreSQL is shared by a
  // cluster's nodes): every version up to it is committed. May read the store.
  virtual Result<uint64_t> SharedCommittedVersion() { return CommittedVersion(); }
  // Ok when the store can serve reads and writes (for /readyz).
  virtual Status Ping() = 0;
  // Finishes pending appends (their callbacks run), then stops accepting new ones.
  virtual void Close() = 0;

  // Counters for /metrics.
  struct Stats {
    uint64_t batches = 0;
    uint64_t appends = 0;
  };
  virtual Stats GetStats() const = 0;
};

using StorePtr = std::unique_ptr<Store>;

}  // namespace parley::store
