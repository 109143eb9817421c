#include "faults/history.h"

#include <boost/json.hpp>
#include <chrono>
#include <fstream>

namespace parley::faults {
namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

const char* OpTypeName(OpType type) {
  switch (type) {
    case OpType::kMember:
      return "member";
    case OpType::kOffline:
      return "offline";
    case OpType::kInvoke:
      return "invoke";
    case OpType::kAttempt:
      return "attempt";
    case OpType::kAck:
      return "ack";
    case OpType::kSendFailed:
      return "send_failed";
    case OpType::kConnected:
      return "connected";
    case OpType::kDeliver:
      return "deliver";
    case OpType::kRelease:
      return "release";
    case OpType::kReceipt:
      return "receipt";
    case OpType::kReceiptSent:
      return "receipt_sent";
    case OpType::kPush:
      return "push";
    case OpType::kNemesis:
      return "nemesis";
    case OpType::kHeal:
      return "heal";
  }
  return "unknown";
}

History::History() : start_ms_(SteadyMs()) {}

void History::Add(Op op) {
  op.time_ms = SteadyMs() - start_ms_;
  std::lock_guard lock(mu_);
  ops_.push_back(std::move(op));
}

std::vector<Op> History::Snapshot() const {
  std::lock_guard lock(mu_);
  return ops_;
}

size_t History::Count(OpType type) const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const Op& op : ops_) n += op.type == type;
  return n;
}

bool History::SaveJsonl(const std::string& path) const {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return false;
  for (const Op& op : Snapshot()) {
    boost::json::object line{
        {"t", op.time_ms}, {"type", OpTypeName(op.type)}, {"process", op.process}};
    auto put = [&](const char* key, const std::string& value) {
      if (!value.empty()) line[key] = value;
    };
    put("conversation", op.conversation);
    if (op.seq != 0) line["seq"] = op.seq;
    put("cmid", op.cmid);
    put("sender", op.sender);
    put("user", op.user);
    put("kind", op.kind);
    put("source", op.source);
    if (op.connection != 0) line["connection"] = op.connection;
    put("detail", op.detail);
    out << boost::json::serialize(line) << '\n';
  }
  return static_cast<bool>(out);
}

}  // namespace parley::faults
