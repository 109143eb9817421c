// Status and Result<T>: errors as values across component boundaries.
// The codes are the error codes of the external contract (SPEC section 3), so a
// Status can travel from the store to an HTTP response or an `error` frame as is.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <cassert>
#include <cstdint>

namespace parley {

enum class Code {
  kOk = 0,
  kBadRequest,
  kUnauthorized,
  kForbidden,
  kNotFound,
  kConflict,
  kTooLarge,
  kRateLimited,
  kUnavailable,
  kInternal,
};

// The wire name of a code ("bad_request", ...).
std::string_view CodeName(Code code);
// The HTTP status that goes with a code.
int HttpStatus(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;
  // For kRateLimited/kUnavailable: when the client may retry (Retry-After).
  int64_t retry_after_ms() const { return retry_after_ms_; }
  Status&& WithRetryAfter(int64_t ms) && {
    retry_after_ms_ = ms;
    return std::move(*this);
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
  int64_t retry_after_ms_ = 0;
};

inline Status BadRequest(std::string m) { return {Code::kBadRequest, std::move(m)}; }
inline Status Unauthorized(std::string m) { return {Code::kUnauthorized, std::move(m)}; }
inline Status Forbidden(std::string m) { return {Code::kForbidden, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
inline Status TooLarge(std::string m) { return {Code::kTooLarge, std::move(m)}; }
inline Status RateLimited(std::string m) { return {Code::kRateLimited, std::move(m)}; }
inline Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

// Moves the value of `result` into `out`; else returns its Status. Used with
// PARLEY_RETURN_IF_ERROR to read many fields in a row.
template <typename T, typename U>
Status MoveInto(T& out, Result<U> result) {
  if (!result.ok()) return result.status();
  out = std::move(result).value();
  return Status::Ok();
}

}  // namespace parley

// Returns early from the calling function when `expr` yields a non-ok Status.
#define PARLEY_RETURN_IF_ERROR(expr)      \
  do {                                    \
    ::parley::Status status_ = (expr);    \
    if (!status_.ok()) return status_;    \
  } while (0)
