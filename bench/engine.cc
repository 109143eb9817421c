#include "engine.h"

#include <netinet/in.h>
#include <pthread.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <charconv>
#include <cstring>
#include <deque>
#include <latch>
#include <optional>
#include <random>
#include <thread>

#include "flat_json.h"
#include "support.h"
#include "ws_codec.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace parley::bench {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

void AppendU64(std::string& s, uint64_t v) {
  char b[24];
  auto r = std::to_chars(b, b + sizeof b, v);
  s.append(b, r.ptr);
}

// "conv.member.sender_seq.sched_ns." + padding: the content of every message.
bool ParseContent(std::string_view s, uint64_t (&out)[4]) {
  for (int i = 0; i < 4; ++i) {
    const size_t dot = s.find('.');
    if (dot == std::string_view::npos || !ParseU64(s.substr(0, dot), out[i])) return false;
    s.remove_prefix(dot + 1);
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------- Worker

class Worker {
 public:
  Worker(Engine& e, int index) : engine(e), index(index), rng(e.options().seed * 7919 + index) {}

  Engine& engine;
  int index;
  net::io_context ioc{1};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;
  std::thread thread;
  WorkerCounters c;
  Histograms h;
  std::vector<Conn*> conns;
  std::deque<Conn*> to_connect;
  int connecting = 0;
  int max_connecting = 64;
  bool stopping = false;

  // Sending.
  net::steady_timer send_timer{ioc};
  std::vector<std::pair<Conn*, size_t>> senders;
  int64_t t0 = 0;
  double interval_ns = 0;
  uint64_t k_next = 0, k_end = 0;
  std::atomic<bool> sending{false};
  std::vector<Conn*> dirty;
  std::string scratch;
  std::mt19937_64 rng;

  void PumpConnects();
  void ArmSendTimer();
  void OnSendTimer();
  void FlushDirty();
};

// ---------------------------------------------------------------- Conn

class Conn {
 public:
  Conn(Engine& e, Worker& w, size_t index, const User* user, const ServerAddr& server)
      : e_(e), w_(w), index_(index), user_(user), server_(server), sock_(w.ioc),
        mask_state_(static_cast<uint32_t>(index * 2654435761u + 12345u) | 1u) {}

  std::vector<Membership> memberships;
  bool dirty = false;
  bool via_queue = false;  // counted in the worker's handshakes in flight

  void Connect();
  void Drop();  // the bench closes the socket (storm close mode)
  void Shutdown() {
    stopping_ = true;
    CloseSocket();
  }
  void SendMessage(size_t mi, int64_t sched_ns, int64_t now_ns);
  void QueueFrame(std::string_view payload, WsOpcode op = WsOpcode::kText);
  void Flush();
  bool synced() const { return state_ == State::kSynced; }

 private:
  enum class State { kIdle, kConnecting, kHandshake, kOpen, kSyncing, kSynced, kClosed, kBackoff };

  void OnConnected(const boost::system::error_code& ec);
  void StartRead();
  void OnRead(const boost::system::error_code& ec, size_t n);
  bool ProcessFrames(int64_t now);  // false when the connection failed
  void HandleText(std::string_view text, int64_t now);
  void OnMessage(const FlatJson& j, int64_t now);
  void OnAck(const FlatJson& j, int64_t now);
  void OnError(const FlatJson& j);
  void SendSync();
  void Fail(const std::string& why, bool count);
  void CloseSocket();
  void ReleaseSlot();
  void ScheduleReconnect();
  void Grow(size_t need);
  uint32_t NextMask() {
    mask_state_ ^= mask_state_ << 13;
    mask_state_ ^= mask_state_ >> 17;
    mask_state_ ^= mask_state_ << 5;
    return mask_state_;
  }
  Membership* FindByIndex(uint64_t conv_index) {
    for (auto& m : memberships) {
      if (m.conv_index == conv_index) return &m;
    }
    return nullptr;
  }
  Membership* FindById(std::string_view id) {
    for (auto& m : memberships) {
      if (m.conv_id == id) return &m;
    }
    return nullptr;
  }

  Engine& e_;
  Worker& w_;
  size_t index_;
  const User* user_;
  const ServerAddr& server_;  // the node this connection (and every reconnect) goes to
  tcp::socket sock_;
  std::unique_ptr<net::steady_timer> retry_timer_;
  State state_ = State::kIdle;
  uint32_t gen_ = 0;
  std::unique_ptr<char[]> rbuf_;
  size_t rcap_ = 0, rlen_ = 0;
  std::string out_, flight_;
  bool writing_ = false;
  bool connected_ = false;
  std::string frag_;
  bool in_frag_ = false;
  std::string key_;
  std::string cursor_;
  uint32_t mask_state_;
  int attempt_ = 0;
  bool counted_synced_ = false;
  bool had_session_ = false;
  bool reconnected_ = false;
  bool stopping_ = false;
};

void Conn::Connect() {
  ++gen_;
  state_ = State::kConnecting;
  connected_ = false;
  rlen_ = 0;
  out_.clear();
  flight_.clear();
  writing_ = false;
  in_frag_ = false;
  boost::system::error_code ec;
  if (sock_.is_open()) sock_.close(ec);
  sock_.open(tcp::v4(), ec);
  const auto& o = e_.options_;
  if (!ec && o.source_addrs > 1) {
    int one = 1;
    ::setsockopt(sock_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    net::ip::address_v4::bytes_type b{127, 0, 0, static_cast<unsigned char>(1 + index_ % o.source_addrs)};
    sock_.bind(tcp::endpoint(net::ip::address_v4(b), 0), ec);
  }
  if (ec) return OnConnected(ec);
  tcp::endpoint ep(net::ip::make_address(server_.host, ec), server_.port);
  if (ec) return OnConnected(ec);
  sock_.async_connect(ep, [this, g = gen_](const boost::system::error_code& ec) {
    if (g != gen_) return;
    OnConnected(ec);
  });
}

void Conn::OnConnected(const boost::system::error_code& ec) {
  if (ec) {
    w_.c.connect_failures.Inc();
    return Fail("connect: " + ec.message(), false);
  }
  w_.c.connect_ok.Inc();
  connected_ = true;
  boost::system::error_code ignored;
  sock_.set_option(tcp::no_delay(true), ignored);
  key_ = MakeWebSocketKey(e_.options_.seed ^ (index_ << 20) ^ gen_);
  out_ = BuildUpgradeRequest(server_.ToString(), "/v1/ws", key_, user_->token);
  state_ = State::kHandshake;
  Flush();
  StartRead();
}

void Conn::Grow(size_t need) {
  if (need <= rcap_) return;
  size_t cap = std::max<size_t>(rcap_ ? rcap_ * 2 : 4096, need);
  auto nb = std::make_unique<char[]>(cap);
  if (rlen_) std::memcpy(nb.get(), rbuf_.get(), rlen_);
  rbuf_ = std::move(nb);
  rcap_ = cap;
}

void Conn::StartRead() {
  if (rcap_ - rlen_ < 1024) Grow(rlen_ + 1024);
  sock_.async_read_some(net::buffer(rbuf_.get() + rlen_, rcap_ - rlen_),
                        [this, g = gen_](const boost::system::error_code& ec, size_t n) {
                          if (g != gen_) return;
                          OnRead(ec, n);
                        });
}

void Conn::OnRead(const boost::system::error_code& ec, size_t n) {
  if (ec) return Fail("read: " + ec.message(), true);
  rlen_ += n;
  const int64_t now = NowNs();
  if (state_ == State::kHandshake) {
    std::string_view data(rbuf_.get(), rlen_);
    const size_t end = data.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (rlen_ > 64 * 1024) {
        w_.c.handshake_failures.Inc();
        return Fail("handshake: response head too large", false);
      }
      return StartRead();
    }
    int status = 0;
    if (!CheckUpgradeResponse(data.substr(0, end + 4), key_, status)) {
      w_.c.handshake_failures.Inc();
      if (status == 401) w_.c.auth_failures.Inc();
      return Fail("handshake: HTTP status " + std::to_string(status), false);
    }
    const size_t rest = rlen_ - (end + 4);
    std::memmove(rbuf_.get(), rbuf_.get() + end + 4, rest);
    rlen_ = rest;
    state_ = State::kOpen;  // authenticated by the header; `ready` follows
  }
  if (!ProcessFrames(now)) return;
  Flush();
  w_.FlushDirty();
  StartRead();
}

bool Conn::ProcessFrames(int64_t now) {
  const uint32_t g = gen_;
  size_t off = 0, need = 0;
  while (off < rlen_) {
    WsFrame f;
    const auto r = ParseFrame(rbuf_.get() + off, rlen_ - off, f);
    if (r == WsParse::kError) {
      w_.c.bad_frames.Inc();
      Fail("bad websocket frame", true);
      return false;
    }
    if (r == WsParse::kNeedMore) {
      if (f.header_bytes) need = static_cast<size_t>(f.header_bytes + f.payload_bytes);
      break;
    }
    char* payload = rbuf_.get() + off + f.header_bytes;
    const size_t len = static_cast<size_t>(f.payload_bytes);
    if (f.masked) ApplyMask(payload, len, f.mask);
    std::string_view p(payload, len);
    switch (f.opcode) {
      case WsOpcode::kText:
      case WsOpcode::kBinary:
        if (f.fin) {
          HandleText(p, now);
        } else {
          frag_.assign(p);
          in_frag_ = true;
        }
        break;
      case WsOpcode::kContinuation:
        if (in_frag_) {
          frag_.append(p);
          if (f.fin) {
            in_frag_ = false;
            HandleText(frag_, now);
          }
        }
        break;
      case WsOpcode::kPing:
        QueueFrame(p, WsOpcode::kPong);
        break;
      case WsOpcode::kPong:
        break;
      case WsOpcode::kClose: {
        unsigned code = len >= 2 ? (static_cast<unsigned char>(p[0]) << 8 | static_cast<unsigned char>(p[1])) : 0;
        Fail("server closed the websocket (" + std::to_string(code) + ")", true);
        return false;
      }
    }
    if (g != gen_) return false;
    off += f.header_bytes + len;
  }
  if (off) {
    std::memmove(rbuf_.get(), rbuf_.get() + off, rlen_ - off);
    rlen_ -= off;
  }
  if (need + 1024 > rcap_) Grow(need + 1024);  // a large frame: room for all of it
  return true;
}

void Conn::HandleText(std::string_view text, int64_t now) {
  FlatJson j;
  if (!j.Parse(text)) {
    w_.c.bad_frames.Inc();
    return;
  }
  const std::string_view op = j.Get("op");
  if (op == "message") return OnMessage(j, now);
  if (op == "ack") return OnAck(j, now);
  if (op == "event") {
    w_.c.events.Inc();
    uint64_t seq = 0;
    Membership* m = FindById(j.Get("conversation_id"));
    if (m && j.GetU64("seq", seq)) {
      const auto v = m->ledger.OnEvent(seq);
      if (v == StreamCheck::Verdict::kDuplicate) w_.c.duplicates.Inc();
      if (v == StreamCheck::Verdict::kOutOfOrder) w_.c.out_of_order.Inc();
    }
    return;
  }
  if (op == "receipt") return w_.c.receipts_received.Inc();
  if (op == "ready") {
    if (had_session_) {
      reconnected_ = true;
      for (auto& m : memberships) m.ledger.NewSession();
    }
    had_session_ = true;
    return SendSync();
  }
  if (op == "synced") {
    cursor_ = std::string(j.Get("cursor"));
    if (j.Get("more") == "true") return SendSync();
    state_ = State::kSynced;
    attempt_ = 0;
    if (!counted_synced_) {
      counted_synced_ = true;
      w_.c.synced_now.Inc();
    }
    ReleaseSlot();
    return;
  }
  if (op == "error") return OnError(j);
  // pong, presence, typing: nothing to check.
}

void Conn::OnMessage(const FlatJson& j, int64_t now) {
  if (j.Get("sender") == user_->id) {
    w_.c.own_echo.Inc();  // own messages replayed by sync
    return;
  }
  uint64_t v[4];
  if (!ParseContent(j.Get("content"), v)) {
    w_.c.bad_frames.Inc();
    return;
  }
  Membership* m = FindByIndex(v[0]);
  const std::string_view cid = j.Get("conversation_id");
  if (!m) {
    w_.c.misrouted.Inc();
    return;
  }
  if (m->conv_id.empty()) {
    m->conv_id = std::string(cid);
  } else if (cid != m->conv_id) {
    w_.c.misrouted.Inc();
    return;
  }
  uint64_t seq = 0;
  if (!j.GetU64("seq", seq)) {
    w_.c.bad_frames.Inc();
    return;
  }
  const uint64_t before = m->ledger.messages();
  const uint64_t sender_order_before = m->ledger.sender_order_violations();
  const auto verdict = m->ledger.OnMessage(seq, static_cast<uint32_t>(v[1]), v[2]);
  const bool fresh = m->ledger.messages() != before;
  const bool resync = state_ == State::kSyncing && reconnected_;
  if (verdict == StreamCheck::Verdict::kDuplicate) {
    w_.c.duplicates.Inc();
    if (resync) w_.c.resync_duplicates.Inc();
  }
  if (verdict == StreamCheck::Verdict::kOutOfOrder) {
    w_.c.out_of_order.Inc();
    if (resync) w_.c.resync_out_of_order.Inc();
  }
  if (resync && m->ledger.sender_order_violations() != sender_order_before) w_.c.resync_sender_order.Inc();
  if (verdict == StreamCheck::Verdict::kRedelivered) w_.c.redelivered.Inc();
  if (!fresh) return;
  w_.c.delivered.Inc();
  if (state_ == State::kSynced) {
    w_.c.live_delivered.Inc();
    const int64_t sched = static_cast<int64_t>(v[3]);
    w_.h.latency.Record(now > sched ? static_cast<uint64_t>(now - sched) : 0);
    if (e_.options_.send_receipts) {
      std::string& s = w_.scratch;
      s.assign(R"({"op":"receipt","id":"r","kind":"read","conversation_id":")");
      s += m->conv_id;
      s += R"(","up_to_seq":)";
      AppendU64(s, seq);
      s += '}';
      QueueFrame(s);
      w_.c.receipts_sent.Inc();
    }
  }
}

void Conn::OnAck(const FlatJson& j, int64_t now) {
  uint64_t id = 0, seq = 0;
  if (!j.GetU64("id", id) || !j.GetU64("seq", seq)) {
    w_.c.bad_frames.Inc();
    return;
  }
  const size_t mi = id & 7;
  const uint64_t num = id >> 3;
  if (mi >= memberships.size() || num == 0 || num > memberships[mi].sched_ns.size()) {
    w_.c.bad_frames.Inc();
    return;
  }
  Membership& m = memberships[mi];
  if (m.conv_id.empty()) m.conv_id = std::string(j.Get("conversation_id"));
  int64_t& sched = m.sched_ns[num - 1];
  if (sched < 0) return;  // a repeated ack
  w_.h.ack_latency.Record(now > sched ? static_cast<uint64_t>(now - sched) : 0);
  sched = -1;
  m.ledger.OnAck(seq);
  w_.c.acked.Inc();
  w_.c.expected_deliveries.Inc(m.members - 1);
}

void Conn::OnError(const FlatJson& j) {
  const std::string_view id = j.Get("id");
  const std::string_view code = j.Get("code");
  std::string what = "error frame: code=" + std::string(code) + " message=\"" + std::string(j.Get("message")) + "\"";
  uint64_t num = 0;
  if (!id.empty() && id[0] == 'r') {
    w_.c.receipt_errors.Inc();
    e_.NoteError("receipt " + what);
    return;
  }
  if (ParseU64(id, num) && (num & 7) < memberships.size() && (num >> 3) >= 1 &&
      (num >> 3) <= memberships[num & 7].sched_ns.size()) {
    int64_t& sched = memberships[num & 7].sched_ns[(num >> 3) - 1];
    if (sched >= 0) sched = -2;
    w_.c.send_errors.Inc();
    if (code == "rate_limited") w_.c.rate_limited.Inc();
    e_.NoteError("send " + what);
    return;
  }
  w_.c.other_errors.Inc();
  e_.NoteError(what);
}

void Conn::SendSync() {
  std::string& s = w_.scratch;
  s.assign(R"({"op":"sync")");
  if (!cursor_.empty()) {
    s += R"(,"cursor":")";
    s += cursor_;
    s += '"';
  }
  s += '}';
  state_ = State::kSyncing;
  w_.c.sync_rounds.Inc();
  QueueFrame(s);
}

void Conn::SendMessage(size_t mi, int64_t sched_ns, int64_t now_ns) {
  if (state_ != State::kSynced) {
    w_.c.skipped_sends.Inc();
    return;
  }
  Membership& m = memberships[mi];
  const uint64_t num = ++m.sent;
  m.sched_ns.push_back(sched_ns);
  std::string& s = w_.scratch;
  s.assign(R"({"op":"send","id":)");
  AppendU64(s, num * 8 + mi);
  if (!m.conv_id.empty()) {
    s += R"(,"conversation_id":")";
    s += m.conv_id;
  } else {
    s += R"(,"to":")";
    s += m.to;
  }
  s += R"(","type":"text","client_msg_id":")";
  s += e_.options_.tag;
  s += '-';
  AppendU64(s, m.conv_index);
  s += '-';
  AppendU64(s, m.member_index);
  s += '-';
  AppendU64(s, num);
  s += R"(","content":")";
  const size_t c0 = s.size();
  AppendU64(s, m.conv_index);
  s += '.';
  AppendU64(s, m.member_index);
  s += '.';
  AppendU64(s, num);
  s += '.';
  AppendU64(s, static_cast<uint64_t>(sched_ns));
  s += '.';
  if (s.size() - c0 < e_.options_.payload_bytes) s.append(e_.options_.payload_bytes - (s.size() - c0), 'x');
  s += "\"}";
  QueueFrame(s);
  w_.c.sent.Inc();
  w_.h.lag.Record(now_ns > sched_ns ? static_cast<uint64_t>(now_ns - sched_ns) : 0);
}

void Conn::QueueFrame(std::string_view payload, WsOpcode op) {
  AppendClientFrame(out_, op, payload, NextMask());
  if (!dirty) {
    dirty = true;
    w_.dirty.push_back(this);
  }
}

void Conn::Flush() {
  dirty = false;
  if (writing_ || out_.empty() || !connected_) return;
  flight_.swap(out_);
  out_.clear();
  writing_ = true;
  net::async_write(sock_, net::buffer(flight_), [this, g = gen_](const boost::system::error_code& ec, size_t) {
    if (g != gen_) return;
    writing_ = false;
    flight_.clear();
    if (ec) return Fail("write: " + ec.message(), true);
    Flush();
  });
}

void Conn::CloseSocket() {
  ++gen_;
  boost::system::error_code ignored;
  sock_.close(ignored);
  connected_ = false;
  writing_ = false;
  if (retry_timer_) retry_timer_->cancel();
}

void Conn::ReleaseSlot() {
  if (!via_queue) return;
  via_queue = false;
  --w_.connecting;
  e_.connecting.fetch_sub(1, std::memory_order_relaxed);
  w_.PumpConnects();
}

void Conn::Fail(const std::string& why, bool count) {
  if (state_ == State::kClosed || state_ == State::kBackoff) return;
  const bool was_open = state_ == State::kOpen || state_ == State::kSyncing || state_ == State::kSynced;
  CloseSocket();
  state_ = State::kClosed;
  if (counted_synced_) {
    counted_synced_ = false;
    w_.c.synced_now.Dec();
  }
  if (stopping_ || w_.stopping) return;
  if (count && was_open) w_.c.disconnects.Inc();
  e_.NoteError(why);
  ReleaseSlot();
  if (e_.options_.reconnect) ScheduleReconnect();
}

void Conn::Drop() {
  if (state_ == State::kClosed || state_ == State::kBackoff || state_ == State::kIdle) return;
  CloseSocket();
  state_ = State::kClosed;
  if (counted_synced_) {
    counted_synced_ = false;
    w_.c.synced_now.Dec();
  }
  ReleaseSlot();
  if (e_.options_.reconnect) ScheduleReconnect();
}

void Conn::ScheduleReconnect() {
  state_ = State::kBackoff;
  if (!retry_timer_) retry_timer_ = std::make_unique<net::steady_timer>(w_.ioc);
  // Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)].
  const auto& o = e_.options_;
  const int64_t ceiling =
      std::min<int64_t>(o.backoff_max_ms, int64_t{o.backoff_base_ms} << std::min(attempt_, 20));
  ++attempt_;
  std::uniform_int_distribution<int64_t> d(0, std::max<int64_t>(ceiling, 1));
  retry_timer_->expires_after(std::chrono::milliseconds(d(w_.rng)));
  retry_timer_->async_wait([this, g = gen_](const boost::system::error_code& ec) {
    if (ec || g != gen_ || stopping_) return;
    w_.c.reconnects.Inc();
    Connect();
  });
}

// ---------------------------------------------------------------- Worker

void Worker::PumpConnects() {
  while (!stopping && connecting < max_connecting && !to_connect.empty()) {
    Conn* c = to_connect.front();
    to_connect.pop_front();
    ++connecting;
    engine.connecting.fetch_add(1, std::memory_order_relaxed);
    c->via_queue = true;
    c->Connect();
  }
}

void Worker::FlushDirty() {
  // Flush may add nothing new; iterate over a stable snapshot.
  for (size_t i = 0; i < dirty.size(); ++i) {
    if (dirty[i]->dirty) dirty[i]->Flush();
  }
  dirty.clear();
}

void Worker::ArmSendTimer() {
  const int64_t next = t0 + static_cast<int64_t>(static_cast<double>(k_next) * interval_ns);
  send_timer.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(next)));
  send_timer.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) OnSendTimer();
  });
}

void Worker::OnSendTimer() {
  if (!sending.load(std::memory_order_relaxed)) return;
  const int64_t now = NowNs();
  const size_t n = senders.size();
  while (k_next < k_end) {
    const int64_t sched = t0 + static_cast<int64_t>(static_cast<double>(k_next) * interval_ns);
    if (sched > now) break;
    auto [conn, mi] = senders[k_next % n];
    conn->SendMessage(mi, sched, now);
    ++k_next;
  }
  FlushDirty();
  if (k_next >= k_end) {
    sending.store(false, std::memory_order_relaxed);
    return;
  }
  ArmSendTimer();
}

// ---------------------------------------------------------------- Engine

Engine::Engine(EngineOptions options) : options_(std::move(options)) {
  options_.threads = std::max(1, options_.threads);
  for (int i = 0; i < options_.threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, i));
    workers_.back()->max_connecting = std::max(1, options_.max_connecting / options_.threads);
  }
}

Engine::~Engine() { Stop(); }

size_t Engine::AddConnection(const User* user, size_t node) {
  const size_t index = conns_.size();
  Worker& w = *workers_[index % workers_.size()];
  conns_.push_back(std::make_unique<Conn>(*this, w, index, user, options_.servers.at(node)));
  w.conns.push_back(conns_.back().get());
  users_.push_back(user);
  return index;
}

void Engine::AddMembership(size_t conn, Membership m) { conns_[conn]->memberships.push_back(std::move(m)); }

void Engine::Start() {
  if (started_) return;
  started_ = true;
  for (auto& w : workers_) {
    w->guard.emplace(w->ioc.get_executor());
    Worker* wp = w.get();
    w->thread = std::thread([wp] {
      std::string name = "bench-io-" + std::to_string(wp->index);
      pthread_setname_np(pthread_self(), name.c_str());
      wp->ioc.run();
    });
  }
}

void Engine::Stop() {
  if (!started_) return;
  RunOnWorkers([](Worker& w) {
    w.stopping = true;
    w.sending.store(false);
    w.send_timer.cancel();
    for (Conn* c : w.conns) c->Shutdown();
  });
  for (auto& w : workers_) {
    w->guard.reset();
    w->ioc.stop();
    if (w->thread.joinable()) w->thread.join();
  }
  started_ = false;
}

void Engine::RunOnWorkers(const std::function<void(Worker&)>& fn) {
  std::latch done(static_cast<ptrdiff_t>(workers_.size()));
  for (auto& w : workers_) {
    Worker* wp = w.get();
    net::post(wp->ioc, [wp, &fn, &done] {
      fn(*wp);
      done.count_down();
    });
  }
  done.wait();
}

void Engine::ConnectAll() {
  RunOnWorkers([](Worker& w) {
    for (Conn* c : w.conns) w.to_connect.push_back(c);
    w.PumpConnects();
  });
}

bool Engine::WaitSynced(uint64_t n, int timeout_ms) {
  const int64_t deadline = NowNs() + int64_t{timeout_ms} * 1'000'000;
  while (NowNs() < deadline) {
    if (GetTotals().synced_now >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return GetTotals().synced_now >= n;
}

void Engine::StartSending(const std::vector<std::pair<size_t, size_t>>& senders, double rate, double duration_s) {
  std::vector<std::vector<std::pair<Conn*, size_t>>> per(workers_.size());
  for (auto [ci, mi] : senders) per[ci % workers_.size()].push_back({conns_[ci].get(), mi});
  const int64_t t0 = NowNs() + 5'000'000;
  const double total = static_cast<double>(senders.size());
  RunOnWorkers([&](Worker& w) {
    w.senders = std::move(per[static_cast<size_t>(w.index)]);
    if (w.senders.empty() || rate <= 0) return;
    std::shuffle(w.senders.begin(), w.senders.end(), w.rng);
    const double rate_w = rate * static_cast<double>(w.senders.size()) / total;
    w.interval_ns = 1e9 / rate_w;
    w.t0 = t0 + static_cast<int64_t>(w.interval_ns * w.index / static_cast<double>(workers_.size()));
    w.k_next = 0;
    w.k_end = static_cast<uint64_t>(rate_w * duration_s);
    if (w.k_end == 0) return;
    w.sending.store(true);
    w.ArmSendTimer();
  });
}

bool Engine::SendingDone() const {
  for (auto& w : workers_) {
    if (w->sending.load(std::memory_order_relaxed)) return false;
  }
  return true;
}

void Engine::StopSending() {
  RunOnWorkers([](Worker& w) {
    w.sending.store(false);
    w.send_timer.cancel();
  });
}

void Engine::SendOnce(const std::vector<std::pair<size_t, size_t>>& senders) {
  std::vector<std::vector<std::pair<Conn*, size_t>>> per(workers_.size());
  for (auto [ci, mi] : senders) per[ci % workers_.size()].push_back({conns_[ci].get(), mi});
  RunOnWorkers([&](Worker& w) {
    const int64_t now = NowNs();
    for (auto [c, mi] : per[static_cast<size_t>(w.index)]) c->SendMessage(mi, now, now);
    w.FlushDirty();
  });
}

bool Engine::Drain(int timeout_ms) {
  const int64_t deadline = NowNs() + int64_t{timeout_ms} * 1'000'000;
  for (;;) {
    const Totals t = GetTotals();
    if (t.acked + t.send_errors >= t.sent && t.delivered >= t.expected_deliveries) return true;
    if (NowNs() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Engine::DropAll() {
  RunOnWorkers([](Worker& w) {
    for (Conn* c : w.conns) c->Drop();
  });
}

Totals Engine::GetTotals() const {
  Totals t;
  for (auto& wp : workers_) {
    const WorkerCounters& c = wp->c;
    t.sent += c.sent.Get();
    t.acked += c.acked.Get();
    t.send_errors += c.send_errors.Get();
    t.rate_limited += c.rate_limited.Get();
    t.expected_deliveries += c.expected_deliveries.Get();
    t.delivered += c.delivered.Get();
    t.live_delivered += c.live_delivered.Get();
    t.duplicates += c.duplicates.Get();
    t.out_of_order += c.out_of_order.Get();
    t.redelivered += c.redelivered.Get();
    t.own_echo += c.own_echo.Get();
    t.events += c.events.Get();
    t.misrouted += c.misrouted.Get();
    t.resync_duplicates += c.resync_duplicates.Get();
    t.resync_out_of_order += c.resync_out_of_order.Get();
    t.resync_sender_order += c.resync_sender_order.Get();
    t.receipts_sent += c.receipts_sent.Get();
    t.receipt_errors += c.receipt_errors.Get();
    t.receipts_received += c.receipts_received.Get();
    t.other_errors += c.other_errors.Get();
    t.bad_frames += c.bad_frames.Get();
    t.connect_ok += c.connect_ok.Get();
    t.connect_failures += c.connect_failures.Get();
    t.handshake_failures += c.handshake_failures.Get();
    t.auth_failures += c.auth_failures.Get();
    t.disconnects += c.disconnects.Get();
    t.reconnects += c.reconnects.Get();
    t.skipped_sends += c.skipped_sends.Get();
    t.synced_now += c.synced_now.Get();
    t.sync_rounds += c.sync_rounds.Get();
  }
  return t;
}

Histograms Engine::TakeHistograms() {
  Histograms out;
  std::mutex mu;
  RunOnWorkers([&](Worker& w) {
    std::lock_guard lock(mu);
    out.Merge(w.h);
    w.h.Reset();
  });
  return out;
}

CheckTotals Engine::Finalize(uint64_t* unacked) {
  std::map<uint32_t, std::vector<MemberLedger*>> by_conv;
  uint64_t pending = 0;
  for (auto& c : conns_) {
    for (auto& m : c->memberships) {
      by_conv[m.conv_index].push_back(&m.ledger);
      for (int64_t s : m.sched_ns) pending += s >= 0;
    }
  }
  CheckTotals totals;
  for (auto& [conv, members] : by_conv) {
    FinalizeConversation(members);
    for (MemberLedger* m : members) totals.Add(*m);
  }
  if (unacked) *unacked = pending;
  return totals;
}

void Engine::NoteError(const std::string& e) {
  std::lock_guard lock(error_mu_);
  if (first_error_.empty()) first_error_ = e;
}

std::string Engine::first_error() const {
  std::lock_guard lock(error_mu_);
  return first_error_;
}

}  // namespace parley::bench
