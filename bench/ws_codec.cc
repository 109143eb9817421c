#include "ws_codec.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstring>

namespace parley::bench {
namespace {

std::string Base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(written));
  return out;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

void ApplyMask(char* data, size_t size, uint32_t mask) {
  unsigned char key[4];
  std::memcpy(key, &mask, 4);
  size_t i = 0;
  if (size >= 8) {
    uint64_t key8;
    unsigned char k8[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
    std::memcpy(&key8, k8, 8);
    for (; i + 8 <= size; i += 8) {
      uint64_t w;
      std::memcpy(&w, data + i, 8);
      w ^= key8;
      std::memcpy(data + i, &w, 8);
    }
  }
  for (; i < size; ++i) data[i] = static_cast<char>(data[i] ^ key[i & 3]);
}

void AppendClientFrame(std::string& out, WsOpcode opcode, std::string_view payload, uint32_t mask) {
  unsigned char head[14];
  size_t h = 0;
  head[h++] = static_cast<unsigned char>(0x80 | static_cast<uint8_t>(opcode));
  const uint64_t n = payload.size();
  if (n < 126) {
    head[h++] = static_cast<unsigned char>(0x80 | n);
  } else if (n <= 0xFFFF) {
    head[h++] = 0x80 | 126;
    head[h++] = static_cast<unsigned char>(n >> 8);
    head[h++] = static_cast<unsigned char>(n);
  } else {
    head[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; --i) head[h++] = static_cast<unsigned char>(n >> (8 * i));
  }
  std::memcpy(head + h, &mask, 4);
  h += 4;
  const size_t start = out.size();
  out.resize(start + h + payload.size());
  std::memcpy(out.data() + start, head, h);
  if (!payload.empty()) std::memcpy(out.data() + start + h, payload.data(), payload.size());
  ApplyMask(out.data() + start + h, payload.size(), mask);
}

WsParse ParseFrame(const char* data, size_t size, WsFrame& f) {
  f = WsFrame{};
  if (size < 2) return WsParse::kNeedMore;
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  f.fin = (p[0] & 0x80) != 0;
  if (p[0] & 0x70) return WsParse::kError;  // no extension negotiated
  f.opcode = static_cast<WsOpcode>(p[0] & 0x0F);
  f.masked = (p[1] & 0x80) != 0;
  uint64_t len = p[1] & 0x7F;
  size_t h = 2;
  if (len == 126) {
    if (size < 4) return WsParse::kNeedMore;
    len = (uint64_t{p[2]} << 8) | p[3];
    h = 4;
  } else if (len == 127) {
    if (size < 10) return WsParse::kNeedMore;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    h = 10;
  }
  if (f.masked) {
    if (size < h + 4) return WsParse::kNeedMore;
    std::memcpy(&f.mask, p + h, 4);
    h += 4;
  }
  if (len > (uint64_t{1} << 40)) return WsParse::kError;
  f.header_bytes = h;
  f.payload_bytes = len;
  return size >= h + len ? WsParse::kFrame : WsParse::kNeedMore;
}

std::string MakeWebSocketKey(uint64_t seed) {
  unsigned char raw[16];
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
  for (int i = 0; i < 16; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    raw[i] = static_cast<unsigned char>(x);
  }
  return Base64(raw, sizeof raw);
}

std::string WebSocketAccept(std::string_view key) {
  std::string input(key);
  input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return Base64(digest, sizeof digest);
}

std::string BuildUpgradeRequest(std::string_view host, std::string_view target, std::string_view key,
                                std::string_view token) {
  std::string r;
  r.reserve(256 + token.size());
  r += "GET ";
  r += target;
  r += " HTTP/1.1\r\nHost: ";
  r += host;
  r += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ";
  r += key;
  r += "\r\n";
  if (!token.empty()) {
    r += "Authorization: Bearer ";
    r += token;
    r += "\r\n";
  }
  r += "\r\n";
  return r;
}

bool CheckUpgradeResponse(std::string_view head, std::string_view key, int& status) {
  status = 0;
  const size_t eol = head.find("\r\n");
  if (eol == std::string_view::npos) return false;
  std::string_view line = head.substr(0, eol);
  // "HTTP/1.1 101 Switching Protocols"
  const size_t sp = line.find(' ');
  if (sp == std::string_view::npos || line.size() < sp + 4) return false;
  status = 0;
  for (size_t i = sp + 1; i < sp + 4; ++i) {
    if (line[i] < '0' || line[i] > '9') return false;
    status = status * 10 + (line[i] - '0');
  }
  if (status != 101) return false;
  const std::string expected = WebSocketAccept(key);
  size_t pos = eol + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view h = head.substr(pos, end - pos);
    pos = end + 2;
    const size_t colon = h.find(':');
    if (colon == std::string_view::npos) continue;
    if (IEquals(Trim(h.substr(0, colon)), "sec-websocket-accept")) {
      return Trim(h.substr(colon + 1)) == expected;
    }
  }
  return false;
}

}  // namespace parley::bench
