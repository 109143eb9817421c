#include "api/byte_range.h"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace parley::api {
namespace {

// Digits only (no sign, no spaces); nullopt when empty or not a number.
std::optional<uint64_t> Number(std::string_view s) {
  uint64_t n = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

}  // namespace

RangeAnswer ParseByteRange(std::optional<std::string_view> header, uint64_t size) {
  constexpr std::string_view kUnit = "bytes=";
  RangeAnswer whole;
  if (!header || !header->starts_with(kUnit) || size == 0) return whole;
  std::string_view spec = header->substr(kUnit.size());
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) return whole;
  std::string_view first_text = spec.substr(0, dash);
  std::optional<uint64_t> first = Number(first_text);
  std::optional<uint64_t> last = Number(spec.substr(dash + 1));
  if (!first && !first_text.empty()) return whole;  // " 5-", "+5-", "x-"
  if (!first) {                                     // "-N": the last N bytes
    if (!last) return whole;
    if (*last == 0) return {RangeKind::kUnsatisfiable, {}};
    return {RangeKind::kPartial, {size - std::min(*last, size), size - 1}};
  }
  if (dash + 1 < spec.size() && !last) return whole;  // "5-x"
  if (last && *last < *first) return whole;           // invalid: ignored
  if (*first >= size) return {RangeKind::kUnsatisfiable, {}};
  return {RangeKind::kPartial, {*first, last ? std::min(*last, size - 1) : size - 1}};
}

}  // namespace parley::api
