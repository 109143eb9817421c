// The appends of one batch inside the committer's transaction: checks each
// request's preconditions against the database (which shows what the
// transaction wrote for earlier requests of the batch) and writes it.
//
// Round trips: Begin() reads the rows every request of the batch starts with
// (conversations, required members, idempotency keys, receipts) in one pipeline and
// keeps them, updated by the batch's own writes, in `known_`; writes are
// queued and sent with the next read that must see them, or with COMMIT. A
// batch of plain messages costs two round trips. A request that fails its
// checks has written nothing; one that fails after writing (a broken
// invariant, corrupt data) makes the committer redo the batch with a
// savepoint per request.
//
// Serialization: the transaction holds the store_meta row lock (the global
// version counter) and locks the conversation row before reading it, so
// seq and version are assigned by one writer at a time across all servers.
#pragma once

#include <optional>
#include <set>
#include <unordered_map>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/append_rules.h"
#include "store/postgres/pg_connection.h"
#include "store/store.h"

namespace parley::store::pg {

class AppendTx {
 public:
  explicit AppendTx(Connection& conn) : conn_(conn) {}

  // Sends what is queued (BEGIN), locks and reads the global version counter
  // and reads ahead what the requests will look up first.
  Status Begin(const std::vector<const AppendRequest*>& requests);
  Result<AppendResult> Add(const AppendRequest& request);
  // After a rollback to a savepoint: rows read ahead may be stale now.
  void Forget() { known_.clear(); }
  // Whether the last Add queued or sent any write, or a statement failed (which
  // aborts the transaction): then its failure cannot be isolated without a savepoint.
  bool tainted() const { return wrote_ || statement_failed_; }

  uint64_t first_version() const { return first_version_; }
  uint64_t last_version() const { return last_version_; }
  // After a failed Add: forget the versions it took.
  void ResetVersion(uint64_t version) { last_version_ = version; }

  // Queues a statement; it is sent with the next read or Flush.
  void Queue(std::string sql, std::vector<Param> params = {});
  // Sends what is queued.
  Status Flush();
  // Drops what is queued (after the transaction failed).
  void Discard() { queued_.clear(); }

 private:
  using Staged = StagedAppend;
  struct MediaDrop {
    std::string media_id;
    std::set<uint64_t> seqs;
    std::optional<MediaRefRecord> rewrite;
    bool drop_ref = false;
    bool unreferenced = false;  // no conversation carries it any more: a GC candidate
  };

  // The rows of a read, sent after everything queued (or read ahead).
  Result<Rows> Query(std::string_view sql, const std::vector<Param>& params);
  // The `body` of the first row, or nullopt.
  Result<std::optional<std::string>> Body(std::string_view sql, const std::vector<Param>& params);
  // A write: queued.
  Status Do(std::string_view sql, const std::vector<Param>& params);
  // A write whose rows are needed: sent now.
  Result<Rows> Returning(std::string_view sql, const std::vector<Param>& params);
  // Sends `queued_` and returns their rows.
  Result<std::vector<Rows>> Send();
  // A conversation, member, idempotency or receipt row (kind 'c', 'm', 'i', 'r'; its key
  // columns): from `known_`, else read (`sql` with the key as parameters).
  Result<std::optional<std::string>> Row(char kind, std::string_view sql,
                                         const std::vector<std::string>& key);
  // Writes `body` to that row's entry in `known_`.
  void Know(char kind, const std::vector<std::string>& key, std::string body);

  Status LoadConversation(const AppendRequest& request, Staged* staged);
  // The stored member record of a user in the staged conversation.
  StoredMember Members(const Staged& staged);
  Result<std::optional<MemberRecord>> Member(const Staged& staged, const std::string& user_id) {
    return CurrentMember(staged, Members(staged), user_id);
  }
  Status StagePromotion(Staged* staged);
  Result<std::optional<IdempotencyRecord>> FindDuplicate(const AppendRequest& request);
  Status LoadMedia(const AppendRequest& request, Staged* staged);
  Result<AppendResult> Write(const AppendRequest& request, Staged staged);
  Status PutConversation(const ConversationRecord& conversation);
  Status PutIdempotency(const AppendRequest& request, const EntryRecord& entry);
  Result<AppendResult> AddReceipt(const AppendRequest& request, Staged staged);

  // Message lifecycle (append_lifecycle.cc).
  Status StageMessage(Staged* staged);
  Result<AppendResult> AddChange(const AppendRequest& request, Staged staged);
  Status WriteTarget(const MessageChange& change, const EntryRecord& after, uint64_t event_seq);
  Result<AppendResult> AddHide(const AppendRequest& request, Staged staged,
                               const EntryRecord& target);
  Result<AppendResult> AddPurge(const AppendRequest& request, Staged staged);
  Result<EntryRecord> LoadMessage(const std::string& conv, uint64_t message_id);
  Result<EntryRecord> LoadEntry(const std::string& conv, uint64_t seq);
  Status PutEntry(const EntryRecord& entry);  // rewrites a stored entry
  Status ScrubRefs(const std::string& conv, uint64_t min_target, uint64_t max_target,
                   uint64_t keep_above);
  Result<MediaDrop> PlanMediaDrop(const std::string& conv, const std::string& media_id,
                                  std::set<uint64_t> seqs);
  Status ApplyMediaDrop(const std::string& conv, const MediaDrop& drop, AppendResult* result);

  Connection& conn_;
  uint64_t first_version_ = 0;
  uint64_t last_version_ = 0;
  bool wrote_ = false;
  bool statement_failed_ = false;
  std::vector<Statement> queued_;
  std::unordered_map<std::string, std::optional<std::string>> known_;  // nullopt: no row
};

}  // namespace parley::store::pg
