#include "checker.h"

#include <algorithm>
#include <bit>

namespace parley::bench {

bool SeqSet::Insert(uint64_t n) {
  const size_t w = n >> 6;
  if (w >= words_.size()) words_.resize(std::max(w + 1, words_.size() * 2), 0);
  const uint64_t bit = uint64_t{1} << (n & 63);
  if (words_[w] & bit) return false;
  words_[w] |= bit;
  ++count_;
  return true;
}

void SeqSet::UnionWith(const SeqSet& other) {
  if (other.words_.size() > words_.size()) words_.resize(other.words_.size(), 0);
  uint64_t count = 0;
  for (size_t i = 0; i < words_.size(); ++i) {
    if (i < other.words_.size()) words_[i] |= other.words_[i];
    count += std::popcount(words_[i]);
  }
  count_ = count;
}

uint64_t CountMissing(const SeqSet& expected, const SeqSet& got, const SeqSet& exclude) {
  const auto& e = expected.words();
  const auto& g = got.words();
  const auto& x = exclude.words();
  uint64_t missing = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    uint64_t w = e[i];
    if (i < g.size()) w &= ~g[i];
    if (i < x.size()) w &= ~x[i];
    missing += std::popcount(w);
  }
  return missing;
}

StreamCheck::Verdict StreamCheck::Receive(uint64_t n, bool* fresh_out) {
  SeqSet& session = sessions_ ? session_ : all_;
  if (fresh_out) *fresh_out = false;
  if (session.Contains(n)) {
    ++duplicates_;
    return Verdict::kDuplicate;
  }
  if (sessions_) session_.Insert(n);
  const bool fresh = all_.Insert(n);
  if (fresh_out) *fresh_out = fresh;
  Verdict v = fresh ? Verdict::kNew : Verdict::kRedelivered;
  if (!fresh) ++redelivered_;
  if (n < high_) {
    ++out_of_order_;
    v = Verdict::kOutOfOrder;
  }
  high_ = std::max(high_, n);
  return v;
}

void StreamCheck::NewSession() {
  sessions_ = true;
  session_.Clear();
  high_ = 0;
}

StreamCheck::Verdict MemberLedger::OnMessage(uint64_t seq, uint32_t sender_index, uint64_t sender_seq) {
  bool fresh = false;
  const auto v = seqs_.Receive(seq, &fresh);
  if (v == StreamCheck::Verdict::kDuplicate) return v;
  if (fresh) ++messages_;  // a new message, possibly late: counted once
  if (sender_index >= last_from_.size()) {
    ++bad_sender_;
    return v;
  }
  uint64_t& last = last_from_[sender_index];
  if (sender_seq <= last) ++sender_order_;
  last = std::max(last, sender_seq);
  return v;
}

StreamCheck::Verdict MemberLedger::OnEvent(uint64_t seq) { return seqs_.Receive(seq); }

void MemberLedger::NewSession() {
  seqs_.NewSession();
  std::fill(last_from_.begin(), last_from_.end(), 0);
}

uint64_t FinalizeConversation(std::span<MemberLedger* const> members) {
  SeqSet all_acked;
  for (const MemberLedger* m : members) all_acked.UnionWith(m->acked());
  uint64_t total = 0;
  for (MemberLedger* m : members) {
    const uint64_t lost = CountMissing(all_acked, m->seqs().received(), m->acked());
    m->set_lost(lost);
    total += lost;
  }
  return total;
}

void CheckTotals::Add(const MemberLedger& m) {
  delivered += m.messages();
  duplicates += m.seqs().duplicates();
  out_of_order += m.seqs().out_of_order();
  sender_order += m.sender_order_violations();
  redelivered += m.seqs().redelivered();
  lost += m.lost();
  bad_sender += m.bad_sender();
}

}  // namespace parley::bench
