// The checker must be able to fail: hand-made histories with one fault each.
#include "faults/checker.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace parley::faults {
namespace {

constexpr const char* kDirect = "d:ann:ben";

Op Member(const std::string& user) {
  return Op{.type = OpType::kMember, .process = user, .conversation = kDirect};
}
Op Invoke(const std::string& cmid) {
  return Op{.type = OpType::kInvoke, .process = "ann", .conversation = kDirect, .cmid = cmid};
}
Op Ack(const std::string& cmid, uint64_t seq, uint64_t connection = 1) {
  return Op{.type = OpType::kAck,
            .process = "ann",
            .conversation = kDirect,
            .seq = seq,
            .cmid = cmid,
            .connection = connection};
}
Op Deliver(const std::string& to, uint64_t seq, const std::string& cmid, const std::string& source,
           uint64_t connection = 1) {
  return Op{.type = OpType::kDeliver,
            .process = to,
            .conversation = kDirect,
            .seq = seq,
            .cmid = cmid,
            .sender = "ann",
            .kind = "message",
            .source = source,
            .connection = source == "final" ? 0 : connection};
}
Op Release(const std::string& to, uint64_t seq, const std::string& cmid) {
  return Op{
      .type = OpType::kRelease, .process = to, .conversation = kDirect, .seq = seq, .cmid = cmid};
}
Op Receipt(const std::string& observer, const std::string& kind, uint64_t up_to,
           const std::string& source = "live") {
  return Op{.type = OpType::kReceipt,
            .process = observer,
            .conversation = kDirect,
            .seq = up_to,
            .user = "ben",
            .kind = kind,
            .source = source,
            .connection = 1};
}

// ann sends c1, c2, c3 to ben; everything arrives, in order, once.
std::vector<Op> Clean() {
  std::vector<Op> h = {Member("ann"), Member("ben")};
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    std::string cmid = "c" + std::to_string(seq);
    h.push_back(Invoke(cmid));
    h.push_back(Ack(cmid, seq));
    h.push_back(Release("ann", seq, cmid));
    h.push_back(Deliver("ben", seq, cmid, "live"));
    h.push_back(Release("ben", seq, cmid));
  }
  h.push_back(Receipt("ann", "read", 1));
  h.push_back(Receipt("ann", "read", 3));
  h.push_back(Op{.type = OpType::kHeal, .process = "nemesis"});
  for (const char* user : {"ann", "ben"}) {
    for (uint64_t seq = 1; seq <= 3; ++seq) {
      h.push_back(Deliver(user, seq, "c" + std::to_string(seq), "final"));
    }
  }
  h.push_back(Receipt("ann", "read", 3, "final"));
  h.push_back(Receipt("ben", "read", 3, "final"));
  return h;
}

// Removes the first op matching `pred`.
template <typename Pred>
void Erase(std::vector<Op>& h, Pred pred) {
  auto it = std::find_if(h.begin(), h.end(), pred);
  ASSERT_NE(it, h.end());
  h.erase(it);
}

// Swaps the first `type` ops of `process` at seqs `a` and `b`.
void SwapFirst(std::vector<Op>& h, OpType type, const std::string& process, uint64_t a,
               uint64_t b) {
  auto find = [&](uint64_t seq) {
    return std::find_if(h.begin(), h.end(), [&](const Op& op) {
      return op.type == type && op.process == process && op.seq == seq;
    });
  };
  auto first = find(a), second = find(b);
  ASSERT_NE(first, h.end());
  ASSERT_NE(second, h.end());
  std::iter_swap(first, second);
}

TEST(FaultChecker, CleanHistoryPasses) {
  CheckResult r = Check(Clean());
  EXPECT_TRUE(r.ok()) << r.Summary();
  EXPECT_EQ(r.acked, 3u);
  EXPECT_EQ(r.invoked, 3u);
}

TEST(FaultChecker, LostAcknowledgedMessage) {
  std::vector<Op> h = Clean();
  // c2 was acked, then the store lost it (a crash before it was durable).
  for (const char* user : {"ann", "ben"}) {
    Erase(h,
          [&](const Op& op) { return op.source == "final" && op.process == user && op.seq == 2; });
  }
  CheckResult r = Check(h);
  EXPECT_EQ(r.Count("lost"), 2u) << r.Summary();
}

TEST(FaultChecker, AckMissingFromOneMember) {
  std::vector<Op> h = Clean();
  Erase(h, [](const Op& op) { return op.source == "final" && op.process == "ben" && op.seq == 3; });
  CheckResult r = Check(h);
  EXPECT_EQ(r.Count("lost"), 1u) << r.Summary();
  EXPECT_EQ(r.Count("gap"), 1u) << r.Summary();  // ben was given seq 3 that the store lacks
}

TEST(FaultChecker, UnackedSend) {
  std::vector<Op> h = Clean();
  h.push_back(Invoke("c9"));
  CheckResult r = Check(h);
  EXPECT_EQ(r.Count("unacked"), 1u) << r.Summary();
}

TEST(FaultChecker, DuplicateStoredTwice) {
  std::vector<Op> h = Clean();
  // A retry of c3 was stored again as seq 4 (the server ignored the client_msg_id).
  h.push_back(Deliver("ben", 4, "c3", "live"));
  h.push_back(Release("ben", 4, "c3"));
  h.push_back(Deliver("ann", 4, "c3", "final"));
  h.push_back(Deliver("ben", 4, "c3", "final"));
  CheckResult r = Check(h);
  EXPECT_EQ(r.Count("duplicate"), 1u) << r.Summary();
}

TEST(FaultChecker, DuplicateAckedAtTwoSeqs) {
  std::vector<Op> h = Clean();
  h.push_back(Ack("c2", 7, 2));
  CheckResult r = Check(h);
  EXPECT_GE(r.Count("duplicate"), 1u) << r.Summary();
}

TEST(FaultChecker, DuplicateReleasedTwice) {
  std::vector<Op> h = Clean();
  h.push_back(Release("ben", 2, "c2"));  // the client's dedup let a redelivery through
  CheckResult r = Check(h);
  EXPECT_EQ(r.Count("duplicate"), 1u) << r.Summary();
}

TEST(FaultChecker, ReorderReleased) {
  std::vector<Op> h = Clean();
  SwapFirst(h, OpType::kRelease, "ben", 2, 3);  // ben's client gave seq 3 before seq 2
  CheckResult r = Check(h);
  EXPECT_EQ(r.Count("order"), 1u) << r.Summary();
}

TEST(FaultChecker, ReorderOnTheWire) {
  std::vector<Op> h = Clean();
  // Live delivery skipped ahead: the connection got 3, then 2 (the client
  // library's buffer hid it from the application).
  SwapFirst(h, OpType::kDeliver, "ben", 2, 3);
  CheckResult r = Check(h);
  EXPECT_EQ(r.Count("order"), 1u) << r.Summary();
  // The same frames on a new connection, or a repeat, are fine.
  std::vector<Op> ok = Clean();
  ok.push_back(Deliver("ben", 1, "c1", "sync", 2));
  ok.push_back(Deliver("ben", 2, "c2", "live", 1));
  EXPECT_TRUE(Check(ok).ok()) << Check(ok).Summary();
}

TEST(FaultChecker, ReceiptRegression) {
  std::vector<Op> h = Clean();
  h.push_back(Receipt("ann", "read", 2, "sync"));  // after 3 was seen
  CheckResult r = Check(h);
  EXPECT_EQ(r.Count("receipt"), 1u) << r.Summary();
}

TEST(FaultChecker, ReadMarkAfterHealNotStored) {
  std::vector<Op> h = Clean();
  h.push_back(Op{.type = OpType::kReceiptSent,
                 .process = "ann",
                 .conversation = kDirect,
                 .seq = 3,
                 .kind = "read",
                 .source = "healed"});
  CheckResult r = Check(h);
  EXPECT_EQ(r.Count("receipt"), 1u) << r.Summary();  // the store has no read mark of ann
}

TEST(FaultChecker, GapInFinalSync) {
  std::vector<Op> h = Clean();
  Erase(h, [](const Op& op) { return op.source == "final" && op.process == "ann" && op.seq == 2; });
  CheckResult r = Check(h);
  EXPECT_GE(r.Count("gap"), 1u) << r.Summary();
  EXPECT_EQ(r.Count("lost"), 1u) << r.Summary();
}

TEST(FaultChecker, PhantomMessage) {
  std::vector<Op> h = Clean();
  h.push_back(Deliver("ann", 4, "nobody-sent-this", "final"));
  h.push_back(Deliver("ben", 4, "nobody-sent-this", "final"));
  CheckResult r = Check(h);
  EXPECT_EQ(r.Count("phantom"), 2u) << r.Summary();
}

TEST(FaultChecker, OfflineMemberNotPushed) {
  std::vector<Op> h = Clean();
  h.push_back(Op{.type = OpType::kOffline, .process = "ben"});
  h.push_back(Op{.type = OpType::kPush, .process = "ben", .conversation = kDirect, .seq = 2});
  CheckResult r = Check(h);
  EXPECT_EQ(r.Count("push"), 1u) << r.Summary();
  h.push_back(Op{.type = OpType::kPush, .process = "ben", .conversation = kDirect, .seq = 1});
  EXPECT_TRUE(Check(h).ok()) << Check(h).Summary();
}

}  // namespace
}  // namespace parley::faults
