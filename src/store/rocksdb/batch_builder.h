// Stages the appends of one group commit into a single WriteBatch. Used by
// the committer thread only; the committer owns the conversation cache it
// reads from.
#pragma once

#include <rocksdb/write_batch.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "common/status.h"
#include "store/append_rules.h"
#include "store/rocksdb/column_families.h"
#include "store/store.h"

namespace parley::store {

using ConversationCache = std::unordered_map<std::string, ConversationRecord>;

class BatchBuilder {
 public:
  // `cache` holds committed conversations; `last_version` is the highest
  // version committed so far.
  BatchBuilder(const RocksDb& db, const ConversationCache& cache, uint64_t last_version);

  // Validates `request` against the committed state plus the requests staged
  // before it, then stages its writes. On error nothing of it is staged.
  Result<AppendResult> Add(const AppendRequest& request);

  // Stages the trailing meta write and returns the batch to write (empty when
  // no request got through).
  rocksdb::WriteBatch& Finish();

  uint64_t last_version() const { return last_version_; }
  // Conversations as this batch leaves them: to publish once it is written.
  const ConversationCache& conversations() const { return conversations_; }

 private:
  using Staged = StagedAppend;

  Status LoadConversation(const AppendRequest& request, Staged* staged);
  // The stored member record of a user in the staged conversation (batch overlay, then DB).
  StoredMember Members(const Staged& staged);
  Result<std::optional<MemberRecord>> Member(const Staged& staged, const std::string& user_id) {
    return CurrentMember(staged, Members(staged), user_id);
  }
  Result<std::optional<IdempotencyRecord>> FindDuplicate(const AppendRequest& request);
  Status StagePromotion(Staged* staged);
  Status LoadMedia(const AppendRequest& request, Staged* staged);
  void StageMediaRef(const EntryRecord& entry, const MediaRecord& media);
  AppendResult Write(const AppendRequest& request, Staged staged);
  Result<AppendResult> AddReceipt(const AppendRequest& request, Staged staged);
  Result<ReceiptRecord> CurrentReceipt(const std::string& key);
  void StageIdempotency(const AppendRequest& request, const EntryRecord& entry);

  // Message lifecycle (lifecycle_batch.cc).
  Status StageMessage(Staged* staged);
  Result<AppendResult> AddChange(const AppendRequest& request, Staged staged);
  void StageTargetWrites(const MessageChange& change, const EntryRecord& before,
                         const EntryRecord& after, uint64_t event_seq, AppendResult* result);
  Result<AppendResult> AddHide(const AppendRequest& request, Staged staged,
                               const EntryRecord& target);
  Result<AppendResult> AddPurge(const AppendRequest& request, Staged staged);
  Result<EntryRecord> LoadMessage(const std::string& conv, uint64_t message_id);
  Result<EntryRecord> LoadEntry(const std::string& conv, uint64_t seq);
  void PutEntry(const EntryRecord& entry);
  Result<std::string> CurrentReaction(const std::string& key);
  Status ScrubRefs(const std::string& conv, const std::string& lower, const std::string& upper,
                   uint64_t keep_above);
  // Messages of `conv` carrying a media id are going (deleted or purged):
  // what that does to the media's references, read first, then staged.
  struct MediaDrop {
    std::string media_id;
    std::set<uint64_t> seqs;                // their media_messages keys go
    std::optional<MediaRefRecord> rewrite;  // still carried: the ref's latest seq moves back
    bool drop_ref = false;                  // no live message of conv carries it any more
    std::string unreferenced_key;           // no conversation at all: a GC candidate
  };
  Result<MediaDrop> PlanMediaDrop(const std::string& conv, const std::string& media_id,
                                  std::set<uint64_t> seqs);
  void ApplyMediaDrop(const std::string& conv, const MediaDrop& drop, AppendResult* result);

  const RocksDb& db_;
  const ConversationCache& cache_;
  uint64_t last_version_;
  rocksdb::WriteBatch batch_;
  bool wrote_ = false;
  // Overlays of what this batch has staged so far, in front of cache and DB.
  ConversationCache conversations_;
  std::unordered_map<std::string, MemberRecord> members_;  // conv\0user; left_seq != 0: removed
  std::unordered_map<std::string, IdempotencyRecord> idempotency_;  // sender\0client_msg_id
  std::unordered_map<std::string, ReceiptRecord> receipts_;         // conv\0user
  std::unordered_map<std::string, EntryRecord> entries_;            // conv\0be64(seq)
  std::unordered_map<std::string, uint64_t> message_index_;         // conv\0be64(id) -> seq
  std::unordered_map<std::string, std::string> reactions_;  // ReactionKey -> emoji ("": none)
  std::set<std::string> refs_;                              // RefKeys staged (ordered: ranges)
  std::set<std::string> hidden_;                            // HiddenKeys staged
  std::unordered_map<std::string, uint64_t> purged_;        // conv -> purged up to this seq
  std::map<std::string, bool> media_messages_;              // MediaMessageKey -> present
  std::map<std::string, std::optional<MediaRefRecord>> media_refs_;  // media\0conv; null: gone
};

}  // namespace parley::store
