// The history of a fault-injection run, in the Jepsen manner: every send the
// application asked for, every attempt on the wire, every ack, every frame a
// client received (live, by sync or history, and what the client released to
// the application after its dedup and ordering), every receipt seen, every
// push, every fault. The checker (checker.h) judges a history after the run.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace parley::faults {

enum class OpType {
  kMember,       // setup: `process` (a user) is a member of `conversation`
  kOffline,      // setup: `process` has a push device and no session while traffic runs
  kInvoke,       // the application asked `process` to send `cmid` to `conversation`
  kAttempt,      // a send of `cmid` went out (WebSocket frame or HTTP request)
  kAck,          // `cmid` acknowledged at (`conversation`, `seq`)
  kSendFailed,   // `cmid` refused for good (`detail`)
  kConnected,    // a new connection of `process` got `ready` (`connection` counts them)
  kDeliver,      // a message/event frame reached `process` (`source`: live|sync|history|final)
  kRelease,      // the client released (`conversation`, `seq`) to the application
  kReceipt,      // `process` saw `user`'s `kind` watermark `seq` (`source`: live|sync|final)
  kReceiptSent,  // `process` marked `kind` up to `seq` (`source`: "healed" after the heal)
  kPush,         // a push to `process` for `conversation` covering `seq` (= count) messages
  kNemesis,      // a fault (`detail`)
  kHeal,         // faults stopped; the final phase begins
};
const char* OpTypeName(OpType type);

struct Op {
  OpType type;
  std::string process;  // the user (client) the op belongs to; "nemesis" for faults
  std::string conversation;
  uint64_t seq = 0;
  std::string cmid;    // client_msg_id
  std::string sender;  // of a delivered message
  std::string user;    // whose receipt
  std::string kind;    // message|event (deliveries), delivered|read (receipts)
  std::string source;
  uint64_t connection = 0;
  std::string detail;
  int64_t time_ms = 0;  // since the history began; set by History::Add
};

// Thread-safe, append-only.
class History {
 public:
  History();
  void Add(Op op);
  std::vector<Op> Snapshot() const;
  size_t Count(OpType type) const;
  // One JSON object per line, for reading a failed run.
  bool SaveJsonl(const std::string& path) const;

 private:
  int64_t start_ms_;
  mutable std::mutex mu_;
  std::vector<Op> ops_;  // guarded by mu_
};

}  // namespace parley::faults
