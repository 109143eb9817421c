#include "placement.h"

#include <charconv>

namespace parley::bench {

namespace {

// Parses all of `s` as a decimal number in [lo, hi].
bool ParseNumber(const std::string& s, long lo, long hi, long& out) {
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && ptr == end && out >= lo && out <= hi;
}

std::vector<std::string> SplitCommas(const std::string& list) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    parts.push_back(list.substr(start, comma - start));
    if (comma == std::string::npos) return parts;
    start = comma + 1;
  }
}

}  // namespace

bool SplitHostPort(const std::string& s, std::string& host, uint16_t& port) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  long p = 0;
  if (!ParseNumber(s.substr(colon + 1), 0, 65535, p)) return false;
  host = s.substr(0, colon);
  port = static_cast<uint16_t>(p);
  return !host.empty();
}

bool ParseServerList(const std::string& list, std::vector<ServerAddr>& out, std::string& error) {
  out.clear();
  for (const std::string& part : SplitCommas(list)) {
    ServerAddr a;
    if (!SplitHostPort(part, a.host, a.port)) {
      error = "bad server address '" + part + "' (want HOST:PORT[,HOST:PORT...])";
      return false;
    }
    out.push_back(std::move(a));
  }
  return true;
}

bool ParsePidList(const std::string& list, std::vector<int>& out, std::string& error) {
  out.clear();
  for (const std::string& part : SplitCommas(list)) {
    long pid = 0;
    if (!ParseNumber(part, 1, 1L << 22, pid)) {
      error = "bad pid '" + part + "' (want PID[,PID...])";
      return false;
    }
    out.push_back(static_cast<int>(pid));
  }
  return true;
}

size_t PairNode(size_t pair, int side, size_t nodes) {
  if (nodes == 0) return 0;
  return (pair + static_cast<size_t>(side)) % nodes;
}

}  // namespace parley::bench
