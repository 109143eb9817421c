// Delivery/read receipts as watermarks, coalesced so that a receipt storm
// costs the store at most one write per (user, conversation) per flush
// interval (the "seen receipt storm" of the original design). Frames only
// raise an in-memory pending watermark; a flush every `flush_ms` writes the
// maxima through the store's commit path (which keeps them monotonic and gives
// them a version for sync) and forwards the changed ones to who may see them.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <condition_variable>
#include <unordered_map>

#include "chat/chat_service.h"
#include "chat/relations.h"

namespace parley::chat {

struct ReceiptOptions {
  int64_t flush_ms = 250;
  size_t fanout_limit = 500;  // groups larger than this get no per-member receipt fan-out
};

class ReceiptService {
 public:
  ReceiptService(store::Store& store, directory::SessionDirectory& directory, Relations& relations,
                 const Clock& clock, MetricsRegistry& metrics, ReceiptOptions options);
  ~ReceiptService();  // flushes

  // A receipt frame: checks membership, then raises the pending watermark.
  // Runs the store read for the membership check; call from a worker thread.
  Status Record(const std::string& user_id, const std::string& conversation_id,
                const std::string& kind, uint64_t up_to_seq);
  // Writes every pending watermark now and waits for the writes.
  void Flush();
  void Stop();

  // Called for every stored message: starts its ack→delivered latency clock.
  void MessageStored(const store::EntryRecord& entry, store::ConversationKind kind);

  // Runs on the commit thread for every stored receipt change (the sync index).
  void SetCommitHook(std::function<void(const std::string& conversation_id, uint64_t version)> hook) {
    commit_hook_ = std::move(hook);
  }

  // Who gets `receipt` frames of `owner` in this conversation.
  std::vector<std::string> Audience(const store::ConversationRecord& c, const std::string& owner);

 private:
  struct Pending {
    uint64_t delivered = 0;
    uint64_t read = 0;
  };
  void Run();
  void Forward(const store::ReceiptRecord& receipt);
  void ObserveDelivered(const store::ReceiptRecord& r);

  store::Store& store_;
  directory::SessionDirectory& directory_;
  Relations& relations_;
  const Clock& clock_;
  const ReceiptOptions options_;
  std::function<void(const std::string&, uint64_t)> commit_hook_;
  Counter& frames_in_;
  Counter& store_writes_;
  Counter& forwarded_;
  Histogram* delivered_latency_[3];  // by ConversationKind

  std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::pair<std::string, std::string>, Pending> pending_;  // (conv, user); guarded
  bool stopping_ = false;                                             // guarded by mu_
  std::thread thread_;

  // Ack times of recent messages not yet covered by a delivered receipt.
  struct Sent {
    uint64_t seq;
    int64_t acked_ms;
    std::string sender;
  };
  std::mutex latency_mu_;
  std::unordered_map<std::string, std::pair<store::ConversationKind, std::deque<Sent>>> sent_;
};

}  // namespace parley::chat
