#include "client/ordering.h"

#include <gtest/gtest.h>

namespace parley::client {
namespace {

Sequenced Msg(const std::string& conv, uint64_t seq, std::string id = "") {
  if (id.empty()) id = conv + "#" + std::to_string(seq);
  return Sequenced{conv, seq, id, boost::json::object{{"seq", seq}}};
}

std::vector<uint64_t> Seqs(const std::vector<Sequenced>& items) {
  std::vector<uint64_t> out;
  for (const auto& i : items) out.push_back(i.seq);
  return out;
}

TEST(OrderingTest, InOrderFramesAreReleasedAtOnce) {
  OrderingBuffer b;
  EXPECT_EQ(Seqs(b.Offer(Msg("c", 1))), std::vector<uint64_t>{1});
  EXPECT_EQ(Seqs(b.Offer(Msg("c", 2))), std::vector<uint64_t>{2});
  EXPECT_EQ(b.Watermark("c"), 2u);
  EXPECT_EQ(b.held(), 0u);
}

TEST(OrderingTest, OutOfOrderArrivalsAreReleasedInOrder) {
  OrderingBuffer b;
  b.SetWatermark("c", 0);
  EXPECT_TRUE(b.Offer(Msg("c", 3)).empty());
  EXPECT_TRUE(b.Offer(Msg("c", 2)).empty());
  EXPECT_EQ(b.held(), 2u);
  EXPECT_EQ(Seqs(b.Offer(Msg("c", 1))), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(b.held(), 0u);
}

TEST(OrderingTest, DuplicatesAreNeverReleased) {
  OrderingBuffer b;
  b.SetWatermark("c", 0);
  EXPECT_EQ(b.Offer(Msg("c", 1)).size(), 1u);
  EXPECT_TRUE(b.Offer(Msg("c", 1)).empty());  // at the watermark
  EXPECT_TRUE(b.Offer(Msg("c", 3)).empty());  // held
  EXPECT_TRUE(b.Offer(Msg("c", 3)).empty());  // already held
  EXPECT_EQ(Seqs(b.Offer(Msg("c", 2))), (std::vector<uint64_t>{2, 3}));
  EXPECT_TRUE(b.Offer(Msg("c", 2)).empty());
  EXPECT_EQ(b.duplicates(), 3u);
}

TEST(OrderingTest, SameMessageIdIsDroppedEvenUnderAnotherSeq) {
  OrderingBuffer b;
  b.SetWatermark("c", 0);
  EXPECT_EQ(b.Offer(Msg("c", 1, "m1")).size(), 1u);
  EXPECT_TRUE(b.Offer(Msg("c", 2, "m1")).empty());
  EXPECT_EQ(b.Watermark("c"), 2u);  // the seq is consumed, nothing released
}

TEST(OrderingTest, GapsAreHeldUntilFilled) {
  OrderingBuffer b;
  b.SetWatermark("c", 4);
  EXPECT_TRUE(b.Offer(Msg("c", 7)).empty());
  auto gaps = b.Gaps();
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0], (std::pair<std::string, uint64_t>{"c", 4}));
  EXPECT_EQ(b.FirstHeld("c"), 7u);
  EXPECT_EQ(Seqs(b.Offer(Msg("c", 5))), std::vector<uint64_t>{5});
  EXPECT_EQ(b.held(), 1u);  // 6 still missing
  EXPECT_EQ(Seqs(b.Offer(Msg("c", 6))), (std::vector<uint64_t>{6, 7}));
  EXPECT_TRUE(b.Gaps().empty());
}

TEST(OrderingTest, SkipToReleasesPastAnInvisibleGap) {
  OrderingBuffer b;
  b.SetWatermark("c", 2);
  EXPECT_TRUE(b.Offer(Msg("c", 9)).empty());
  EXPECT_TRUE(b.Offer(Msg("c", 10)).empty());
  EXPECT_EQ(Seqs(b.SkipTo("c", 8)), (std::vector<uint64_t>{9, 10}));
  EXPECT_TRUE(b.Offer(Msg("c", 5)).empty());  // below the watermark now
}

TEST(OrderingTest, ConversationsAreIndependent) {
  OrderingBuffer b;
  b.SetWatermark("a", 0);
  b.SetWatermark("b", 0);
  EXPECT_TRUE(b.Offer(Msg("a", 2)).empty());
  EXPECT_EQ(Seqs(b.Offer(Msg("b", 1))), std::vector<uint64_t>{1});
  EXPECT_EQ(Seqs(b.Offer(Msg("a", 1))), (std::vector<uint64_t>{1, 2}));
}

TEST(OrderingTest, AnUnknownConversationStartsAtItsFirstFrame) {
  OrderingBuffer b;
  EXPECT_EQ(Seqs(b.Offer(Msg("g", 57))), std::vector<uint64_t>{57});
  EXPECT_EQ(b.Watermark("g"), 57u);
  EXPECT_TRUE(b.Offer(Msg("g", 56)).empty());
}

TEST(OrderingTest, RecentIdsForgetsTheOldest) {
  RecentIds ids(2);
  ids.Add("a");
  ids.Add("b");
  ids.Add("c");
  EXPECT_FALSE(ids.Contains("a"));
  EXPECT_TRUE(ids.Contains("b"));
  EXPECT_TRUE(ids.Contains("c"));
}

}  // namespace
}  // namespace parley::client
