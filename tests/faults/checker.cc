#include "faults/checker.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace parley::faults {
namespace {

using Key = std::pair<std::string, std::string>;  // (user, conversation)

struct Position {
  std::string sender, conversation;
  uint64_t seq = 0;
};

// What the checks need, gathered in one pass over the history.
struct Model {
  std::map<std::string, std::set<std::string>> members;  // conversation → users
  std::set<std::string> offline;
  std::map<std::string, Position> invoked;                  // cmid → (sender, conversation)
  std::map<std::string, Position> acked;                    // cmid → where it was first acked
  std::map<Key, std::map<uint64_t, const Op*>> final_view;  // the store as each member syncs it
  std::vector<const Op*> deliveries, releases, receipts, receipts_sent, acks;
  std::map<Key, uint64_t> pushed;  // (user, conversation) → messages covered
};

std::string Where(const std::string& conversation, uint64_t seq) {
  return conversation + "#" + std::to_string(seq);
}

std::string Join(const std::set<uint64_t>& seqs, size_t max = 10) {
  std::string out;
  size_t n = 0;
  for (uint64_t s : seqs) {
    if (n++ == max) return out + ",…";
    out += (out.empty() ? "" : ",") + std::to_string(s);
  }
  return out;
}

class Checker {
 public:
  explicit Checker(const std::vector<Op>& history) : history_(history) {}

  CheckResult Run() {
    Gather();
    CheckAcks();
    CheckStoredOnce();
    CheckFinalView();
    CheckReleased();
    CheckConnections();
    CheckReceipts();
    CheckPushes();
    return std::move(result_);
  }

 private:
  void Fail(const char* check, std::string detail) {
    result_.violations.push_back({check, std::move(detail)});
  }

  void Gather() {
    for (const Op& op : history_) {
      switch (op.type) {
        case OpType::kMember:
          m_.members[op.conversation].insert(op.process);
          break;
        case OpType::kOffline:
          m_.offline.insert(op.process);
          break;
        case OpType::kInvoke:
          ++result_.invoked;
          m_.invoked[op.cmid] = {op.process, op.conversation, 0};
          break;
        case OpType::kAttempt:
          ++result_.attempts;
          break;
        case OpType::kAck:
          m_.acks.push_back(&op);
          break;
        case OpType::kConnected:
          ++result_.connections;
          break;
        case OpType::kDeliver:
          ++result_.deliveries;
          m_.deliveries.push_back(&op);
          if (op.source == "final") m_.final_view[{op.process, op.conversation}][op.seq] = &op;
          break;
        case OpType::kRelease:
          ++result_.released;
          m_.releases.push_back(&op);
          break;
        case OpType::kReceipt:
          ++result_.receipts;
          m_.receipts.push_back(&op);
          break;
        case OpType::kReceiptSent:
          m_.receipts_sent.push_back(&op);
          break;
        case OpType::kPush:
          ++result_.pushes;
          m_.pushed[{op.process, op.conversation}] += op.seq;
          break;
        case OpType::kNemesis:
          ++result_.faults;
          break;
        case OpType::kSendFailed:
          Fail("unacked", op.process + " " + op.cmid + " refused for good: " + op.detail);
          break;
        case OpType::kHeal:
          break;
      }
    }
  }

  // One position per client_msg_id across every ack; every invoke acked.
  void CheckAcks() {
    for (const Op* op : m_.acks) {
      auto [it, first] =
          m_.acked.try_emplace(op->cmid, Position{op->process, op->conversation, op->seq});
      if (!first && (it->second.conversation != op->conversation || it->second.seq != op->seq)) {
        Fail("duplicate", op->cmid + " acked at " + Where(it->second.conversation, it->second.seq) +
                              " and at " + Where(op->conversation, op->seq));
      }
    }
    result_.acked = m_.acked.size();
    for (const auto& [cmid, p] : m_.invoked) {
      if (!m_.acked.count(cmid))
        Fail("unacked", p.sender + " sent " + cmid + " but it was never acked");
    }
  }

  // A (sender, client_msg_id) lives at one seq, whoever sees it and however.
  void CheckStoredOnce() {
    std::map<Key, std::set<std::pair<std::string, uint64_t>>> positions;
    for (const Op* op : m_.deliveries) {
      if (op->kind != "message" || op->cmid.empty()) continue;
      positions[{op->sender, op->cmid}].insert({op->conversation, op->seq});
    }
    for (const auto& [cmid, p] : m_.acked)
      positions[{p.sender, cmid}].insert({p.conversation, p.seq});
    for (const auto& [key, where] : positions) {
      if (where.size() < 2) continue;
      std::string list;
      for (const auto& [c, s] : where) list += " " + Where(c, s);
      Fail("duplicate", key.first + "'s " + key.second + " stored at" + list);
    }
  }

  void CheckFinalView() {
    for (const auto& [cmid, p] : m_.acked) {
      auto members = m_.members.find(p.conversation);
      if (members == m_.members.end()) {
        Fail("lost", cmid + " acked in " + p.conversation + ", which no member's setup declared");
        continue;
      }
      for (const std::string& user : members->second) {
        const auto& view = m_.final_view[{user, p.conversation}];
        auto it = view.find(p.seq);
        if (it == view.end()) {
          Fail("lost", p.sender + "'s " + cmid + " acked at " + Where(p.conversation, p.seq) +
                           " is missing from " + user + "'s final sync");
        } else if (it->second->cmid != cmid) {
          Fail("lost", p.sender + "'s " + cmid + " acked at " + Where(p.conversation, p.seq) +
                           " but " + user + "'s final sync has " + it->second->cmid + " there");
        }
      }
    }
    for (const auto& [key, view] : m_.final_view) {
      if (view.empty()) continue;
      std::set<uint64_t> holes;
      for (uint64_t s = view.begin()->first; s < view.rbegin()->first; ++s) {
        if (!view.count(s)) holes.insert(s);
      }
      if (!holes.empty()) {
        Fail("gap", key.first + "'s final sync of " + key.second + " lacks seqs " + Join(holes));
      }
      for (const auto& [seq, op] : view) {
        if (op->kind == "message" && !m_.invoked.count(op->cmid)) {
          Fail("phantom", key.first + " sees " + Where(key.second, seq) + " (" + op->cmid +
                              ") that no client sent");
        }
      }
    }
  }

  // Each client's released stream: in seq order, once, and in the end equal
  // to what its final sync holds.
  void CheckReleased() {
    std::map<Key, std::set<uint64_t>> released;
    std::map<Key, uint64_t> last;
    for (const Op* op : m_.releases) {
      Key key{op->process, op->conversation};
      if (!released[key].insert(op->seq).second) {
        Fail("duplicate",
             op->process + " was given " + Where(op->conversation, op->seq) + " twice");
        continue;
      }
      if (op->seq <= last[key]) {
        Fail("order", op->process + " was given " + Where(op->conversation, op->seq) +
                          " after seq " + std::to_string(last[key]));
      }
      last[key] = std::max(last[key], op->seq);
    }
    for (const auto& [key, seqs] : released) {
      std::set<uint64_t> stored;
      for (const auto& [seq, op] : m_.final_view[key]) stored.insert(seq);
      std::set<uint64_t> missing, extra;
      std::set_difference(stored.begin(), stored.end(), seqs.begin(), seqs.end(),
                          std::inserter(missing, missing.end()));
      std::set_difference(seqs.begin(), seqs.end(), stored.begin(), stored.end(),
                          std::inserter(extra, extra.end()));
      if (!missing.empty()) {
        Fail("gap", key.first + " was never given seqs " + Join(missing) + " of " + key.second);
      }
      if (!extra.empty()) {
        Fail("gap", key.first + " was given seqs " + Join(extra) + " of " + key.second +
                        " that its final sync lacks");
      }
    }
  }

  // On one connection, a conversation's frames never go back below a seq
  // already delivered (duplicates aside). The connection's own acks count as
  // delivered: they stand for the sender's copy. History replies fill gaps
  // out of band and are not part of the stream.
  void CheckConnections() {
    struct Stream {
      std::set<uint64_t> seen;
      uint64_t max = 0;
    };
    std::map<std::tuple<std::string, uint64_t, std::string>, Stream> streams;
    for (const Op& each : history_) {
      const Op* op = &each;
      bool relevant = op->type == OpType::kAck || op->type == OpType::kDeliver;
      if (!relevant || op->connection == 0 || op->source == "final") continue;
      Stream& s = streams[{op->process, op->connection, op->conversation}];
      bool in_stream = op->type == OpType::kDeliver && op->source != "history";
      if (!s.seen.insert(op->seq).second || !in_stream) continue;
      if (op->seq < s.max) {
        Fail("order", op->process + " connection " + std::to_string(op->connection) + " got " +
                          Where(op->conversation, op->seq) + " (" + op->source + ") after seq " +
                          std::to_string(s.max));
      }
      s.max = std::max(s.max, op->seq);
    }
  }

  void CheckReceipts() {
    std::map<std::tuple<std::string, std::string, std::string, std::string>, uint64_t> seen;
    std::map<std::tuple<std::string, std::string, std::string>, uint64_t> stored;
    for (const Op* op : m_.receipts) {
      uint64_t& mark = seen[{op->process, op->conversation, op->user, op->kind}];
      if (op->seq < mark) {
        Fail("receipt", op->process + " saw " + op->user + "'s " + op->kind + " watermark in " +
                            op->conversation + " go from " + std::to_string(mark) + " to " +
                            std::to_string(op->seq) + " (" + op->source + ")");
      }
      mark = std::max(mark, op->seq);
      if (op->source == "final" && op->process == op->user) {
        stored[{op->user, op->conversation, op->kind}] = op->seq;
      }
    }
    for (const Op* op : m_.receipts_sent) {
      if (op->source != "healed") continue;
      uint64_t have = stored[{op->process, op->conversation, op->kind}];
      if (have < op->seq) {
        Fail("receipt", op->process + " marked " + op->kind + " up to " + std::to_string(op->seq) +
                            " in " + op->conversation + " after the heal, the store has " +
                            std::to_string(have));
      }
    }
  }

  void CheckPushes() {
    std::map<std::string, std::set<uint64_t>> acked_seqs;  // conversation → seqs
    std::map<std::pair<std::string, uint64_t>, std::string> sender_at;
    for (const auto& [cmid, p] : m_.acked) {
      acked_seqs[p.conversation].insert(p.seq);
      sender_at[{p.conversation, p.seq}] = p.sender;
    }
    for (const std::string& user : m_.offline) {
      for (const auto& [conversation, users] : m_.members) {
        if (!users.count(user)) continue;
        uint64_t expected = 0;
        for (uint64_t seq : acked_seqs[conversation])
          expected += sender_at[{conversation, seq}] != user;
        uint64_t got = m_.pushed[{user, conversation}];
        if (got < expected) {
          Fail("push", user + " was offline and got pushes for " + std::to_string(got) + " of " +
                           std::to_string(expected) + " messages in " + conversation);
        }
      }
    }
  }

  const std::vector<Op>& history_;
  Model m_;
  CheckResult result_;
};

}  // namespace

size_t CheckResult::Count(const std::string& check) const {
  return std::count_if(violations.begin(), violations.end(),
                       [&](const Violation& v) { return v.check == check; });
}

std::string CheckResult::Summary(size_t max_listed) const {
  std::ostringstream out;
  out << "invoked=" << invoked << " acked=" << acked << " attempts=" << attempts
      << " deliveries=" << deliveries << " released=" << released << " receipts=" << receipts
      << " pushes=" << pushes << " connections=" << connections << " faults=" << faults
      << " violations=" << violations.size();
  for (size_t i = 0; i < violations.size() && i < max_listed; ++i) {
    out << "\n  [" << violations[i].check << "] " << violations[i].detail;
  }
  if (violations.size() > max_listed) out << "\n  … " << violations.size() - max_listed << " more";
  return out.str();
}

CheckResult Check(const std::vector<Op>& history) { return Checker(history).Run(); }

}  // namespace parley::faults
