// Range headers: any header and representation size give a whole, partial or unsatisfiable
// answer, and a partial range always lies inside the representation.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "api/byte_range.h"
#include "fuzz_check.h"

using namespace parley::api;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first 8 bytes (when present) pick the representation's size; the rest is the header.
  uint64_t length = 1000;
  if (size >= 8) {
    std::memcpy(&length, data, 8);
    data += 8;
    size -= 8;
  }
  std::string_view header(reinterpret_cast<const char*>(data), size);
  for (uint64_t total : {length, uint64_t{1}, uint64_t{1000}}) {
    if (total == 0) continue;  // callers never ask about empty representations
    RangeAnswer a = ParseByteRange(header, total);
    if (a.kind == RangeKind::kPartial) {
      FUZZ_CHECK(a.range.first <= a.range.last);
      FUZZ_CHECK(a.range.last < total);
      FUZZ_CHECK(a.range.length() <= total);
    }
  }
  FUZZ_CHECK(ParseByteRange(std::nullopt, length == 0 ? 1 : length).kind == RangeKind::kWhole);
  return 0;
}
