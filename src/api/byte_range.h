// The single-range subset of HTTP Range requests (RFC 9110 section 14).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace parley::api {

struct ByteRange {
  uint64_t first = 0;  // inclusive
  uint64_t last = 0;   // inclusive
  uint64_t length() const { return last - first + 1; }
};

enum class RangeKind {
  kWhole,          // no usable Range header: send everything (200)
  kPartial,        // send `range` (206)
  kUnsatisfiable,  // starts beyond the end (416)
};

struct RangeAnswer {
  RangeKind kind = RangeKind::kWhole;
  ByteRange range;
};

// Interprets a Range header for a representation of `size` (> 0) bytes.
// Malformed headers, other units and several ranges are ignored (the whole
// representation is sent), as RFC 9110 allows.
RangeAnswer ParseByteRange(std::optional<std::string_view> header, uint64_t size);

}  // namespace parley::api
