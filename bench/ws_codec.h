// The bench's own WebSocket client framing (RFC 6455), written for throughput
// rather than generality: frames are appended to a connection's output buffer
// so that many of them go out in one write, and incoming frames are parsed in
// place from the read buffer. Client frames are masked as the RFC requires;
// no extensions are offered, so the server sends plain frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::bench {

enum class WsOpcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Appends one client frame (FIN set, masked with `mask`) to `out`.
void AppendClientFrame(std::string& out, WsOpcode opcode, std::string_view payload, uint32_t mask);

struct WsFrame {
  bool fin = false;
  WsOpcode opcode = WsOpcode::kText;
  size_t header_bytes = 0;
  uint64_t payload_bytes = 0;
  bool masked = false;
  uint32_t mask = 0;
};

enum class WsParse { kFrame, kNeedMore, kError };

// Parses the frame header at the start of [data, data+size). On kFrame the
// whole frame (header_bytes + payload_bytes) is available in the buffer; on
// kNeedMore, `frame.header_bytes + frame.payload_bytes` is how much the frame
// needs once the header is complete (0 while the header itself is partial).
WsParse ParseFrame(const char* data, size_t size, WsFrame& frame);

// Unmasks a payload in place (server frames are unmasked; for tests).
void ApplyMask(char* data, size_t size, uint32_t mask);

// A random Sec-WebSocket-Key (base64 of 16 bytes) and the Accept the server
// must answer with (base64 of SHA-1 of key + RFC GUID).
std::string MakeWebSocketKey(uint64_t seed);
std::string WebSocketAccept(std::string_view key);

// The upgrade request for `target` (e.g. /v1/ws), authenticated with a bearer
// token when one is given.
std::string BuildUpgradeRequest(std::string_view host, std::string_view target,
                                std::string_view key, std::string_view token);

// Checks the server's response head (through the blank line): status 101 and
// the right Sec-WebSocket-Accept. On failure, `status` is the HTTP status seen.
bool CheckUpgradeResponse(std::string_view head, std::string_view key, int& status);

}  // namespace parley::bench
