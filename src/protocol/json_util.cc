#include "protocol/json_util.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace parley::protocol {

namespace json = boost::json;

Result<json::object> ParseObject(std::string_view text) {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value value = json::parse(text, ec, {}, options);
  if (ec) return BadRequest("not valid JSON: " + ec.message());
  if (!value.is_object()) return BadRequest("expected a JSON object");
  return std::move(value.as_object());
}

Result<std::string> GetString(const json::object& obj, std::string_view key, bool required,
                              size_t max_len, std::string fallback) {
  const json::value* v = obj.if_contains(key);
  if (!v || v->is_null()) {
    if (required) return BadRequest(std::string(key) + " is required");
    return fallback;
  }
  if (!v->is_string()) return BadRequest(std::string(key) + " must be a string");
  const json::string& s = v->get_string();
  if (s.size() > max_len) {
    return BadRequest(std::string(key) + " is longer than " + std::to_string(max_len) + " bytes");
  }
  return std::string(s.data(), s.size());
}

Result<uint64_t> GetUint(const json::object& obj, std::string_view key, bool required,
                         uint64_t fallback) {
  constexpr uint64_t kMaxSafe = 1ULL << 53;
  const json::value* v = obj.if_contains(key);
  if (!v || v->is_null()) {
    if (required) return BadRequest(std::string(key) + " is required");
    return fallback;
  }
  if (v->is_uint64() && v->get_uint64() <= kMaxSafe) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
  return BadRequest(std::string(key) + " must be a non-negative integer");
}

Result<std::optional<bool>> GetBool(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  if (!v || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) return BadRequest(std::string(key) + " must be true or false");
  return std::optional<bool>(v->get_bool());
}

std::string ToJson(const json::value& value) { return json::serialize(value); }

}  // namespace parley::protocol
