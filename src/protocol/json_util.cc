#include "protocol/json_util.h"

#include <boost/json/memory_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>

#include <memory>
#include <new>

namespace parley::protocol {

namespace json = boost::json;

namespace {

// What a parse may hold. Shared by the resource and ParseObject, which lifts
// the bound once parsing is done: afterwards the document may grow freely
// (callers add fields). (Boost.JSON keeps the resource as a member of its own
// wrapper, so the resource cannot be reached back through the storage_ptr.)
struct JsonBudget {
  size_t bound;
  size_t used = 0;
};

// Counts the bytes a parse holds and refuses to go past the budget's bound.
class BoundedResource final : public json::memory_resource {
 public:
  explicit BoundedResource(std::shared_ptr<JsonBudget> budget) : budget_(std::move(budget)) {}

 private:
  void* do_allocate(size_t n, size_t /*align*/) override {
    if (n > budget_->bound - std::min(budget_->bound, budget_->used)) throw std::bad_alloc();
    budget_->used += n;
    return ::operator new(n);  // Boost.JSON never asks for more than max_align_t
  }
  void do_deallocate(void* p, size_t n, size_t /*align*/) override {
    budget_->used -= n;
    ::operator delete(p);
  }
  bool do_is_equal(const memory_resource& other) const noexcept override { return this == &other; }

  std::shared_ptr<JsonBudget> budget_;
};

}  // namespace

Result<json::object> ParseObject(std::string_view text) {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  size_t bound = kJsonMemorySlack + 2 * text.size();
  // The document and the parser's working stack are bounded separately.
  auto document_budget = std::make_shared<JsonBudget>(JsonBudget{bound});
  json::storage_ptr document = json::make_shared_resource<BoundedResource>(document_budget);
  json::parser parser(
      json::make_shared_resource<BoundedResource>(std::make_shared<JsonBudget>(JsonBudget{bound})),
      options);
  parser.reset(document);
  boost::system::error_code ec;
  json::value value;
  try {
    parser.write(text.data(), text.size(), ec);
    if (!ec) value = parser.release();
  } catch (const std::bad_alloc&) {
    return TooLarge("the JSON document takes too much memory (too many values)");
  }
  document_budget->bound = SIZE_MAX;
  if (ec == json::error::too_deep) {
    return BadRequest("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
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
