// The rules of an append that do not depend on the backend: membership
// changes, access checks, idempotency windows, receipt merging and the
// message lifecycle's changes to a target. The RocksDB batch builder and the
// PostgreSQL append transaction both apply them to what they read, so the two
// stores cannot drift apart.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "common/status.h"
#include "store/store.h"

namespace parley::store {

// What one request would change, before anything of it is written.
struct StagedAppend {
  ConversationRecord conversation;
  bool created = false;
  uint64_t seq = 0;
  std::map<std::string, MemberRecord> members;  // by user id; left_seq != 0: removed
  std::string promoted;                         // made admin because no admin was left
  std::optional<MediaRecord> media;             // the media a message carries
  EntryRecord entry;                            // the request's entry as it will be stored
  uint64_t reply_target = 0;                    // seq of the message entry.reply_to names
};

// The stored membership record of `user_id` in the staged conversation
// (current or former), as the backend sees it; nullopt when there is none.
using StoredMember = std::function<Result<std::optional<MemberRecord>>(const std::string& user_id)>;
// Visits the stored members of the staged conversation until `visit` yields
// false (newest state first when a user appears twice).
using StoredMembers =
    std::function<Status(const std::function<bool(const MemberRecord& member)>& visit)>;

// The user's current membership: the staged one, else the stored one.
Result<std::optional<MemberRecord>> CurrentMember(const StagedAppend& staged,
                                                  const StoredMember& stored,
                                                  const std::string& user_id);
// require_member / require_admin.
Status CheckAccess(const AppendRequest& request, const StagedAppend& staged,
                   const StoredMember& stored);
// add_members, remove_members and set_roles, in this order, with the cap.
Status StageMembership(const AppendRequest& request, StagedAppend* staged,
                       const StoredMember& stored);
// The oldest current member (lowest joined_seq, then user id) becomes admin
// when the request leaves members but no admin.
Status StagePromotion(StagedAppend* staged, const StoredMembers& stored);

// A stored idempotency record answers the request unless it is older than its window.
bool WithinIdempotencyWindow(const AppendRequest& request, const IdempotencyRecord& record);

// Merges the asked receipt into `stored` (watermarks only rise, read implies
// delivered, nothing beyond last_seq). False when nothing rose.
bool MergeReceipt(const ReceiptRecord& asked, uint64_t last_seq, ReceiptRecord* stored);

// The start of a quoted message's content, cut at a UTF-8 boundary.
std::string ReplyPreview(const std::string& content);
// Checks `change` (edit, delete, react, counts) against the target and
// applies it to *target; `reaction` is the actor's current reaction (kReact).
// False: a no-op.
Result<bool> ChangeTarget(const MessageChange& change, const MemberRecord& actor,
                          const EntryRecord& event, const std::string& reaction,
                          EntryRecord* target);
// An entry that quoted or edited a deleted message loses the copied content.
void ScrubCopiedContent(EntryRecord* entry);

}  // namespace parley::store
