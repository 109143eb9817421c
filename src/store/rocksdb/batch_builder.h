// Stages the appends of one group commit into a single WriteBatch. Used by
// the committer thread only; the committer owns the conversation cache it
// reads from.
#pragma once

#include <rocksdb/write_batch.h>

#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/status.h"
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
  // What one request would change, before anything of it is staged.
  struct Staged {
    ConversationRecord conversation;
    bool created = false;
    uint64_t seq = 0;
    std::map<std::string, MemberRecord> members;  // by user id; left_seq != 0: removed
    std::string promoted;  // made admin because no admin was left
    std::optional<MediaRecord> media;             // the media a message carries
  };

  Status LoadConversation(const AppendRequest& request, Staged* staged);
  Result<std::optional<MemberRecord>> CurrentMember(const Staged& staged,
                                                    const std::string& user_id);
  Status CheckAccess(const AppendRequest& request, const Staged& staged);
  Result<std::optional<IdempotencyRecord>> FindDuplicate(const AppendRequest& request);
  Status StageAdds(const AppendRequest& request, Staged* staged);
  Status StageRemovals(const AppendRequest& request, Staged* staged);
  Status StageRoles(const AppendRequest& request, Staged* staged);
  Status StagePromotion(Staged* staged);
  Status LoadMedia(const AppendRequest& request, Staged* staged);
  void StageMediaRef(const EntryRecord& entry, const MediaRecord& media);
  AppendResult Write(const AppendRequest& request, Staged staged);
  Result<AppendResult> AddReceipt(const AppendRequest& request, Staged staged);
  Result<ReceiptRecord> CurrentReceipt(const std::string& key);

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
};

}  // namespace parley::store
