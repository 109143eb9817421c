// The correctness checker: what one receiver saw of one conversation, judged
// against what the senders had acknowledged.
//
//  * duplicate     - an entry (conversation seq) delivered twice in one session
//                    (a reconnect's sync may legitimately replay: that is counted
//                    as `redelivered`, not as a duplicate);
//  * out of order  - an entry arriving below the highest seq already seen in the
//                    session (the server promises seq order per session), and
//                    separately a sender's own numbering going backwards;
//  * lost          - a seq acknowledged to another member that this member never
//                    received (computed at the end by FinalizeConversation).
//
// Everything here is single-threaded: a ledger belongs to the connection that
// owns it; FinalizeConversation runs once all threads have stopped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace parley::bench {

// A growable bitset of sequence numbers.
class SeqSet {
 public:
  // Adds n; false when it was already there.
  bool Insert(uint64_t n);
  bool Contains(uint64_t n) const {
    const size_t w = n >> 6;
    return w < words_.size() && ((words_[w] >> (n & 63)) & 1);
  }
  uint64_t Count() const { return count_; }
  void Clear() {
    words_.clear();
    count_ = 0;
  }
  const std::vector<uint64_t>& words() const { return words_; }
  void UnionWith(const SeqSet& other);

 private:
  std::vector<uint64_t> words_;
  uint64_t count_ = 0;
};

// |expected \ (got ∪ exclude)|.
uint64_t CountMissing(const SeqSet& expected, const SeqSet& got, const SeqSet& exclude);

// One ordered stream of numbered items at one receiver.
class StreamCheck {
 public:
  enum class Verdict { kNew, kOutOfOrder, kDuplicate, kRedelivered };

  // `fresh` (optional) tells whether n was never received before in any session.
  Verdict Receive(uint64_t n, bool* fresh = nullptr);
  // A new session (reconnect): ordering restarts and a replay is legitimate.
  void NewSession();

  const SeqSet& received() const { return all_; }
  uint64_t unique() const { return all_.Count(); }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t out_of_order() const { return out_of_order_; }
  uint64_t redelivered() const { return redelivered_; }

 private:
  SeqSet all_;
  SeqSet session_;
  bool sessions_ = false;  // whether session_ is in use (after the first NewSession)
  uint64_t high_ = 0;
  uint64_t duplicates_ = 0, out_of_order_ = 0, redelivered_ = 0;
};

// One member of one conversation: what it sent (acked) and what it received.
class MemberLedger {
 public:
  explicit MemberLedger(uint32_t members = 0) : last_from_(members, 0) {}

  // A `message` from another member: its conversation seq, the sender's index
  // in the conversation and the sender's own running number (1, 2, ...).
  StreamCheck::Verdict OnMessage(uint64_t seq, uint32_t sender_index, uint64_t sender_seq);
  // An `event` entry (created, member_added, ...): takes a seq, is no message.
  StreamCheck::Verdict OnEvent(uint64_t seq);
  // This member's own send was acknowledged with this conversation seq.
  void OnAck(uint64_t seq) { acked_.Insert(seq); }
  void NewSession();

  const StreamCheck& seqs() const { return seqs_; }
  const SeqSet& acked() const { return acked_; }
  uint64_t messages() const { return messages_; }          // unique messages received
  uint64_t sender_order_violations() const { return sender_order_; }
  uint64_t bad_sender() const { return bad_sender_; }      // sender index out of range
  uint64_t lost() const { return lost_; }
  void set_lost(uint64_t n) { lost_ = n; }

 private:
  StreamCheck seqs_;
  SeqSet acked_;
  std::vector<uint64_t> last_from_;  // per sender index: last sender_seq in this session
  uint64_t messages_ = 0, sender_order_ = 0, bad_sender_ = 0, lost_ = 0;
};

// Sets every member's `lost` (seqs acknowledged to the other members that it
// never received) and returns their sum.
uint64_t FinalizeConversation(std::span<MemberLedger* const> members);

struct CheckTotals {
  uint64_t delivered = 0;  // unique messages received
  uint64_t duplicates = 0;
  uint64_t out_of_order = 0;
  uint64_t sender_order = 0;
  uint64_t redelivered = 0;
  uint64_t lost = 0;
  uint64_t bad_sender = 0;
  void Add(const MemberLedger& m);
  bool clean() const {
    return duplicates == 0 && out_of_order == 0 && sender_order == 0 && lost == 0 && bad_sender == 0;
  }
};

}  // namespace parley::bench
