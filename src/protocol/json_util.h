// Reading untrusted JSON: parsing with depth limits and typed field access
// that turns every surprise into a BadRequest naming the field.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace parley::protocol {

constexpr int kMaxJsonDepth = 16;
// A parsed document may take twice its text plus this much memory: small
// values and empty containers grow many times over in memory, strings do not.
constexpr size_t kJsonMemorySlack = 1 << 20;

// Parses `text` as a JSON object. Nesting deeper than kMaxJsonDepth or invalid
// UTF-8 is BadRequest; a document over its memory bound is TooLarge.
Result<boost::json::object> ParseObject(std::string_view text);

// A string field: absent → `fallback` (or BadRequest when required);
// wrong type or longer than max_len bytes → BadRequest.
Result<std::string> GetString(const boost::json::object& obj, std::string_view key,
                              bool required, size_t max_len, std::string fallback = "");
// A non-negative integer field (JSON number without fraction, ≤ 2^53).
Result<uint64_t> GetUint(const boost::json::object& obj, std::string_view key, bool required,
                         uint64_t fallback = 0);
// An optional boolean field.
Result<std::optional<bool>> GetBool(const boost::json::object& obj, std::string_view key);

// Serializes a value (convenience for building frames and bodies).
std::string ToJson(const boost::json::value& value);

}  // namespace parley::protocol
