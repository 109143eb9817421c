#include "flat_json.h"

namespace parley::bench {
namespace {

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Scans a string starting after its opening quote; returns the index of the
// closing quote or npos.
size_t StringEnd(std::string_view s, size_t i) {
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\\') {
      i += 2;
      continue;
    }
    if (c == '"') return i;
    ++i;
  }
  return std::string_view::npos;
}

// Skips a nested object or array starting at s[i] ('{' or '['); returns the
// index just past its end or npos.
size_t SkipNested(std::string_view s, size_t i) {
  int depth = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"') {
      i = StringEnd(s, i + 1);
      if (i == std::string_view::npos) return i;
      ++i;
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
    ++i;
  }
  return std::string_view::npos;
}

}  // namespace

bool ParseU64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t next = v * 10 + static_cast<uint64_t>(c - '0');
    if (next / 10 != v) return false;
    v = next;
  }
  out = v;
  return true;
}

bool FlatJson::Parse(std::string_view s) {
  n_ = 0;
  size_t i = 0;
  while (i < s.size() && IsWs(s[i])) ++i;
  if (i >= s.size() || s[i] != '{') return false;
  ++i;
  for (;;) {
    while (i < s.size() && IsWs(s[i])) ++i;
    if (i >= s.size()) return false;
    if (s[i] == '}') return true;
    if (s[i] == ',') {
      ++i;
      continue;
    }
    if (s[i] != '"') return false;
    const size_t key_end = StringEnd(s, i + 1);
    if (key_end == std::string_view::npos) return false;
    std::string_view key = s.substr(i + 1, key_end - i - 1);
    i = key_end + 1;
    while (i < s.size() && IsWs(s[i])) ++i;
    if (i >= s.size() || s[i] != ':') return false;
    ++i;
    while (i < s.size() && IsWs(s[i])) ++i;
    if (i >= s.size()) return false;
    std::string_view value;
    bool is_string = false;
    if (s[i] == '"') {
      const size_t end = StringEnd(s, i + 1);
      if (end == std::string_view::npos) return false;
      value = s.substr(i + 1, end - i - 1);
      is_string = true;
      i = end + 1;
    } else if (s[i] == '{' || s[i] == '[') {
      const size_t end = SkipNested(s, i);
      if (end == std::string_view::npos) return false;
      value = s.substr(i, end - i);
      i = end;
    } else {
      const size_t start = i;
      while (i < s.size() && s[i] != ',' && s[i] != '}' && !IsWs(s[i])) ++i;
      value = s.substr(start, i - start);
      if (value.empty()) return false;
    }
    if (n_ < kMaxFields) fields_[n_++] = Field{key, value, is_string};
  }
}

const FlatJson::Field* FlatJson::Find(std::string_view key) const {
  for (size_t i = 0; i < n_; ++i) {
    if (fields_[i].key == key) return &fields_[i];
  }
  return nullptr;
}

std::string_view FlatJson::Get(std::string_view key) const {
  const Field* f = Find(key);
  return f ? f->value : std::string_view{};
}

bool FlatJson::Has(std::string_view key) const { return Find(key) != nullptr; }

bool FlatJson::IsString(std::string_view key) const {
  const Field* f = Find(key);
  return f && f->is_string;
}

bool FlatJson::GetU64(std::string_view key, uint64_t& out) const {
  const Field* f = Find(key);
  return f && ParseU64(f->value, out);
}

}  // namespace parley::bench
