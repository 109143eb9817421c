#include "api/byte_range.h"

#include <gtest/gtest.h>

namespace parley::api {
namespace {

void ExpectPartial(std::string_view header, uint64_t size, uint64_t first, uint64_t last) {
  RangeAnswer a = ParseByteRange(header, size);
  EXPECT_EQ(a.kind, RangeKind::kPartial) << header;
  EXPECT_EQ(a.range.first, first) << header;
  EXPECT_EQ(a.range.last, last) << header;
}

TEST(ByteRangeTest, SingleRanges) {
  ExpectPartial("bytes=0-0", 10, 0, 0);
  ExpectPartial("bytes=2-5", 10, 2, 5);
  ExpectPartial("bytes=2-", 10, 2, 9);
  ExpectPartial("bytes=5-100", 10, 5, 9);  // clamped to the end
  ExpectPartial("bytes=-3", 10, 7, 9);
  ExpectPartial("bytes=-30", 10, 0, 9);
  EXPECT_EQ(ParseByteRange("bytes=2-5", 10).range.length(), 4u);
}

TEST(ByteRangeTest, BeyondTheEndIsUnsatisfiable) {
  EXPECT_EQ(ParseByteRange("bytes=10-", 10).kind, RangeKind::kUnsatisfiable);
  EXPECT_EQ(ParseByteRange("bytes=10-20", 10).kind, RangeKind::kUnsatisfiable);
  EXPECT_EQ(ParseByteRange("bytes=-0", 10).kind, RangeKind::kUnsatisfiable);
}

TEST(ByteRangeTest, AnythingElseMeansTheWholeFile) {
  for (std::string_view h : {"", "bytes=", "bytes=-", "items=0-1", "bytes=5-2", "bytes=a-b",
                             "bytes=0-1,3-4", "bytes= 0-1", "bytes=+1-2", "bytes=1-2x",
                             "bytes=99999999999999999999999-"}) {
    EXPECT_EQ(ParseByteRange(h, 10).kind, RangeKind::kWhole) << h;
  }
  EXPECT_EQ(ParseByteRange(std::nullopt, 10).kind, RangeKind::kWhole);
}

}  // namespace
}  // namespace parley::api
