// The load engine: a few threads, each running its own io_context with many
// WebSocket connections (the bench's own lean client, see ws_codec.h).
//
// Sending is open-loop: every worker owns a share of the senders and a
// schedule (message k is due at t0 + k / rate); a timer wakes the worker when
// the next message is due, it appends every due frame to its connection's
// output buffer and then issues one write per connection, so frames are
// batched. Each message's content carries its *scheduled* time, so latency is
// measured from when the message should have left, not from when the
// generator got round to it (no coordinated omission).
//
// Receiving parses frames in place from the read buffer with FlatJson and
// feeds the checker (checker.h). Counters read by the control thread are
// relaxed atomics with a single writer; histograms are per worker and are
// collected by running a task on every worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "checker.h"
#include "histogram.h"
#include "placement.h"

namespace parley::bench {

struct User {
  std::string id;
  std::string token;
};

// A single-writer counter readable from any thread.
struct Ctr {
  std::atomic<uint64_t> v{0};
  void Inc(uint64_t n = 1) { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void Dec(uint64_t n = 1) { v.store(v.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  uint64_t Get() const { return v.load(std::memory_order_relaxed); }
};

struct WorkerCounters {
  Ctr sent, acked, send_errors, rate_limited, expected_deliveries;
  Ctr delivered;       // unique messages received (live or by sync)
  Ctr live_delivered;  // of which live (latency recorded)
  Ctr duplicates, out_of_order, redelivered, own_echo, events, misrouted;
  // Of those, seen while a reconnected session's sync was running (live frames
  // that arrived between `ready` and the sync, then replayed older entries).
  Ctr resync_duplicates, resync_out_of_order, resync_sender_order;
  Ctr receipts_sent, receipt_errors, receipts_received;
  Ctr other_errors, bad_frames;
  Ctr connect_ok, connect_failures, handshake_failures, auth_failures, disconnects, reconnects;
  Ctr skipped_sends;  // scheduled while the sender's connection was down
  Ctr synced_now;     // connections currently authenticated and synced
  Ctr sync_rounds;
};

struct Totals {
  uint64_t sent = 0, acked = 0, send_errors = 0, rate_limited = 0, expected_deliveries = 0;
  uint64_t delivered = 0, live_delivered = 0, duplicates = 0, out_of_order = 0, redelivered = 0;
  uint64_t own_echo = 0, events = 0, misrouted = 0;
  uint64_t resync_duplicates = 0, resync_out_of_order = 0, resync_sender_order = 0;
  uint64_t receipts_sent = 0, receipt_errors = 0, receipts_received = 0, other_errors = 0, bad_frames = 0;
  uint64_t connect_ok = 0, connect_failures = 0, handshake_failures = 0, auth_failures = 0;
  uint64_t disconnects = 0, reconnects = 0, skipped_sends = 0, synced_now = 0, sync_rounds = 0;
};

struct Histograms {
  Histogram latency;      // scheduled send -> receiver's socket read (live deliveries)
  Histogram ack_latency;  // scheduled send -> durable ack read by the sender
  Histogram lag;          // scheduled send -> frame handed to the socket (generator lateness)
  void Merge(const Histograms& o) {
    latency.Merge(o.latency);
    ack_latency.Merge(o.ack_latency);
    lag.Merge(o.lag);
  }
  void Reset() {
    latency.Reset();
    ack_latency.Reset();
    lag.Reset();
  }
};

// One conversation as one connection takes part in it.
struct Membership {
  uint32_t conv_index = 0;     // the bench's number for the conversation
  uint32_t member_index = 0;   // this member's index in it
  uint32_t members = 0;        // member count (expected receivers of a send: members - 1)
  std::string conv_id;         // the server's id (learned from the first ack/message for 1:1)
  std::string to;              // 1:1 peer, used until conv_id is known
  MemberLedger ledger;
  uint64_t sent = 0;              // this member's running send number
  std::vector<int64_t> sched_ns;  // per send number - 1: scheduled time, -1 acked, -2 failed
};

struct EngineOptions {
  std::vector<ServerAddr> servers;  // the nodes; each connection goes to one of them
  int threads = 2;
  int source_addrs = 1;        // bind to 127.0.0.1 .. 127.0.0.N round robin
  int max_connecting = 256;    // handshakes in flight, all workers together
  bool reconnect = false;      // reconnect with backoff on a drop (storm)
  int backoff_base_ms = 100;
  int backoff_max_ms = 5000;
  bool send_receipts = false;  // answer every live message with a read receipt
  size_t payload_bytes = 64;   // message content size (at least the header)
  uint64_t seed = 1;
  std::string tag = "b";       // client_msg_id prefix, unique per run
};

class Conn;
class Worker;

class Engine {
 public:
  explicit Engine(EngineOptions options);
  ~Engine();

  // Setup, before Start: one connection for `user` to server `node`, on a
  // worker chosen round robin; returns its index.
  size_t AddConnection(const User* user, size_t node = 0);
  // A conversation of that connection (copied in).
  void AddMembership(size_t conn, Membership m);
  size_t connections() const { return conns_.size(); }

  void Start();  // worker threads
  void Stop();   // close everything, join threads

  // Connects every connection (bounded handshakes in flight), each then
  // authenticates and syncs.
  void ConnectAll();
  // Waits until `n` connections are synced; false on timeout.
  bool WaitSynced(uint64_t n, int timeout_ms);

  // Open-loop sending: `senders` are (connection, membership index); `rate`
  // messages/s in total for `duration_s`. Returns at once.
  void StartSending(const std::vector<std::pair<size_t, size_t>>& senders, double rate, double duration_s);
  bool SendingDone() const;
  void StopSending();

  // One message from each (connection, membership) now (warm-up); returns at once.
  void SendOnce(const std::vector<std::pair<size_t, size_t>>& senders);

  // Waits until every send is acked or failed and every expected delivery has
  // arrived (or timeout). True when drained.
  bool Drain(int timeout_ms);

  // The bench drops every connection at once (storm "close" mode); with
  // reconnect on, they come back with backoff.
  void DropAll();

  Totals GetTotals() const;
  // Collects and resets every worker's histograms.
  Histograms TakeHistograms();
  // Runs fn on every worker's thread, waits for all.
  void RunOnWorkers(const std::function<void(Worker&)>& fn);

  // After Stop: the checker's verdict over every conversation.
  CheckTotals Finalize(uint64_t* unacked = nullptr);

  const EngineOptions& options() const { return options_; }
  std::string first_error() const;
  void NoteError(const std::string& e);
  std::atomic<int> connecting{0};

 private:
  friend class Conn;
  friend class Worker;
  EngineOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<const User*> users_;
  bool started_ = false;
  mutable std::mutex error_mu_;
  std::string first_error_;
};

}  // namespace parley::bench
