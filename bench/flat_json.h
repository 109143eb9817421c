// A non-allocating reader of the flat JSON objects the server sends as frames
// ({"op":"message","seq":3,...}). It finds the top-level members and returns
// their raw text: strings without their quotes (escapes are not decoded; the
// bench's own strings have none), numbers and literals as written; nested
// objects and arrays are skipped over correctly and returned raw. It is the
// receive hot path of the bench, so it does not build a DOM.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace parley::bench {

class FlatJson {
 public:
  static constexpr size_t kMaxFields = 24;

  // False when `text` is not a well-formed object (as far as this reader
  // looks). Members past kMaxFields are ignored.
  bool Parse(std::string_view text);

  // Raw value of `key`, or empty (check Has for present-but-empty strings).
  std::string_view Get(std::string_view key) const;
  bool Has(std::string_view key) const;
  bool IsString(std::string_view key) const;
  // An unsigned integer member, or a string holding one (ids are strings).
  bool GetU64(std::string_view key, uint64_t& out) const;

 private:
  struct Field {
    std::string_view key;
    std::string_view value;
    bool is_string;
  };
  const Field* Find(std::string_view key) const;
  std::array<Field, kMaxFields> fields_;
  size_t n_ = 0;
};

// Parses an unsigned decimal; false on anything else (or overflow).
bool ParseU64(std::string_view s, uint64_t& out);

}  // namespace parley::bench
