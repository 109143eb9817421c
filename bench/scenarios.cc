#include "scenarios.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "engine.h"
#include "report.h"
#include "support.h"

namespace parley::bench {
namespace json = boost::json;

namespace {

double Secs(int64_t ns) { return static_cast<double>(ns) / 1e9; }
double R2(double v) { return std::round(v * 100.0) / 100.0; }
void SleepMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
void Progress(const std::string& s) { std::cerr << "[parley-bench] " << s << std::endl; }

std::string F(const char* fmt, double v) {
  char b[64];
  std::snprintf(b, sizeof b, fmt, v);
  return b;
}

struct Ctx {
  const Options& o;
  std::string host;
  uint16_t port = 0;
  std::unique_ptr<ServerProcess> server;
  std::string listen;  // the started server's address (reused on restart), or --server's list
  std::vector<ServerAddr> nodes;  // every server; host/port above are the first one
  std::vector<pid_t> pids;        // per node, when known (RSS and CPU figures)
  std::string data_dir;
  bool temp_dir = false;
  std::string tag;
  uint64_t seed = 0;
  json::object out;
  std::vector<std::string> table;  // human output
  uint64_t problems = 0;
  std::vector<std::string> problem_list;
  bool perf_done = false;

  explicit Ctx(const Options& opts) : o(opts) {}
  void Line(const std::string& s) { table.push_back(s); }
  void Problem(const std::string& what, uint64_t n) {
    if (n == 0) return;
    problems += n;
    problem_list.push_back(what + ": " + std::to_string(n));
  }
};

// ---------------------------------------------------------------- server

bool SetUpServer(Ctx& c, std::string& error) {
  const Options& o = c.o;
  if (!o.start_server.empty()) {
    if (o.data_dir.empty()) {
      char tmpl[] = "/tmp/parley-bench-XXXXXX";
      if (!::mkdtemp(tmpl)) {
        error = "mkdtemp failed";
        return false;
      }
      c.data_dir = tmpl;
      c.temp_dir = !o.keep_data;
    } else {
      c.data_dir = o.data_dir;
      std::filesystem::create_directories(c.data_dir);
    }
    ServerLaunch l;
    l.binary = o.start_server;
    l.log_path = c.data_dir + "/server.log";
    l.args = {"--data-dir", c.data_dir};
    for (auto& a : BenchServerArgs(o.durability)) l.args.push_back(std::move(a));
    if (o.server_threads > 0) {
      l.args.push_back("--threads");
      l.args.push_back(std::to_string(o.server_threads));
    }
    for (const auto& a : o.server_args) l.args.push_back(a);
    c.server = std::make_unique<ServerProcess>(l);
    if (!c.server->Start("127.0.0.1:0", 30'000, error)) return false;
    c.listen = c.server->address();
    json::array argv{json::string(o.start_server), "--listen", json::string(c.listen)};
    for (const auto& a : l.args) argv.push_back(json::string(a));
    c.out["server_command"] = std::move(argv);
  } else if (!o.server_cmd.empty()) {
    if (o.server.find(',') != std::string::npos) {
      error = "--server-cmd starts one server: give one --server HOST:PORT";
      return false;
    }
    ServerLaunch l;
    l.shell_cmd = o.server_cmd;
    char tmpl[] = "/tmp/parley-bench-log-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      error = "mkdtemp failed";
      return false;
    }
    c.data_dir = tmpl;
    c.temp_dir = !o.keep_data;
    l.log_path = c.data_dir + "/server.log";
    c.server = std::make_unique<ServerProcess>(l);
    c.server->set_address(o.server);
    if (!c.server->Start(o.server, 30'000, error)) return false;
    c.listen = o.server;
    c.out["server_command"] = o.server_cmd;
  } else {
    c.listen = o.server;
  }
  if (!ParseServerList(c.listen, c.nodes, error)) return false;
  c.host = c.nodes[0].host;
  c.port = c.nodes[0].port;
  if (c.server) {
    c.pids = {c.server->pid()};
  } else if (!o.server_pid.empty()) {
    std::vector<int> pids;
    if (!ParsePidList(o.server_pid, pids, error)) return false;
    if (pids.size() != c.nodes.size()) {
      error = "--server-pid: give one pid per --server node (" + std::to_string(c.nodes.size()) + ")";
      return false;
    }
    c.pids.assign(pids.begin(), pids.end());
  }
  for (const ServerAddr& n : c.nodes) {
    if (!WaitHealthy(n.host, n.port, 10'000)) {
      error = "server at " + n.ToString() + " does not answer /healthz";
      return false;
    }
  }
  c.out["server_address"] = c.listen;
  c.out["nodes"] = c.nodes.size();
  return true;
}

void TearDownServer(Ctx& c) {
  if (c.server && c.server->running()) {
    const int rc = c.server->Terminate(15'000);
    c.out["server_exit_status"] = rc;
    // Exit 0 is the server's promise on SIGTERM; an instrumented build (scripts/test.sh) also
    // exits non-zero after a sanitizer report or a leak.
    c.Problem("server exit status " + std::to_string(rc), rc != 0 ? 1 : 0);
    if (rc != 0) {  // its log goes away with the data dir below: show it
      std::cerr << "parley-bench: the server's log:\n"
                << std::ifstream(c.data_dir + "/server.log").rdbuf() << "\n";
    }
  }
  if (c.temp_dir && !c.data_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(c.data_dir, ec);
  }
}

// ---------------------------------------------------------------- samples

// The server figures of one moment; with several nodes, summed over them
// (metrics, CPU, RSS, CPU per thread name), with CPU and RSS also per node.
struct Sample {
  int64_t t = 0;
  std::vector<pid_t> pids;
  int64_t cpu = -1;
  std::vector<int64_t> node_cpu, node_rss_kb;
  std::map<std::string, int64_t> threads;
  MetricsSnapshot m;
  bool has_m = false;
  int64_t rss_kb = -1;
  int64_t self_cpu = -1;
};

// Sum of per-node readings; -1 when any node's is unknown.
int64_t SumKnown(const std::vector<int64_t>& v) {
  int64_t sum = 0;
  for (int64_t x : v) {
    if (x < 0) return -1;
    sum += x;
  }
  return v.empty() ? -1 : sum;
}

Sample TakeSample(Ctx& c) {
  Sample s;
  s.has_m = true;
  for (const ServerAddr& n : c.nodes) {
    MetricsSnapshot m;
    s.has_m = ScrapeMetrics(n.host, n.port, m) && s.has_m;
    s.m.Add(m);
  }
  s.t = NowNs();
  s.pids = c.pids;
  for (pid_t pid : c.pids) {
    s.node_cpu.push_back(ReadCpuTicks(pid));
    s.node_rss_kb.push_back(ReadRssKb(pid));
    for (const auto& [name, ticks] : ReadThreadCpuTicks(pid)) s.threads[name] += ticks;
  }
  s.cpu = SumKnown(s.node_cpu);
  s.rss_kb = SumKnown(s.node_rss_kb);
  s.self_cpu = ReadCpuTicks(::getpid());
  return s;
}

std::string ThreadGroup(std::string name) {
  while (!name.empty() && (std::isdigit(static_cast<unsigned char>(name.back())) || name.back() == '-' ||
                           name.back() == '_')) {
    name.pop_back();
  }
  return name.empty() ? "?" : name;
}

// Server CPU, CPU per thread group, metric deltas and the bench's own CPU
// between two samples.
json::object ServerDelta(const Sample& a, const Sample& b) {
  json::object o;
  const double secs = Secs(b.t - a.t);
  const double tck = static_cast<double>(ClockTicksPerSecond());
  o["seconds"] = R2(secs);
  if (a.cpu >= 0 && b.cpu >= 0 && a.pids == b.pids && secs > 0) {
    o["server_cpu_cores"] = R2(static_cast<double>(b.cpu - a.cpu) / tck / secs);
    if (b.pids.size() > 1) {
      json::array per_node;
      for (size_t i = 0; i < b.pids.size(); ++i) {
        per_node.push_back(R2(static_cast<double>(b.node_cpu[i] - a.node_cpu[i]) / tck / secs));
      }
      o["server_cpu_cores_per_node"] = std::move(per_node);
    }
    json::object th;
    std::map<std::string, double> groups;
    for (auto& [name, ticks] : b.threads) {
      auto it = a.threads.find(name);
      const int64_t d = ticks - (it == a.threads.end() ? 0 : it->second);
      groups[ThreadGroup(name)] += static_cast<double>(d) / tck / secs;
    }
    for (auto& [g, v] : groups) {
      if (v >= 0.005) th[g] = R2(v);
    }
    o["server_cpu_by_thread"] = std::move(th);
  }
  if (b.rss_kb >= 0) o["server_rss_kib"] = b.rss_kb;
  if (b.rss_kb >= 0 && b.pids.size() > 1) {
    o["server_rss_kib_per_node"] = json::array(b.node_rss_kb.begin(), b.node_rss_kb.end());
  }
  if (a.self_cpu >= 0 && secs > 0) o["bench_cpu_cores"] = R2(static_cast<double>(b.self_cpu - a.self_cpu) / tck / secs);
  if (a.has_m && b.has_m) {
    auto d = [&](const char* name) { return b.m.Get(name) - a.m.Get(name); };
    json::object m;
    for (const char* name : {"parley_messages_in_total", "parley_messages_out_total", "parley_frames_in_total",
                             "parley_store_batches_total", "parley_store_appends_total",
                             "parley_slow_consumer_closes_total", "parley_messages_duplicate_total",
                             "parley_receipt_frames_total", "parley_receipt_store_writes_total",
                             "parley_receipt_forwarded_total"}) {
      if (b.m.Has(name)) m[name] = d(name);
    }
    const double batches = d("parley_store_batches_total");
    if (batches > 0) m["mean_batch_size"] = R2(d("parley_store_appends_total") / batches);
    if (secs > 0 && batches > 0) m["batches_per_s"] = R2(batches / secs);
    const double commits = d("parley_store_commit_seconds_count");
    if (commits > 0) m["mean_commit_ms"] = R2(1000 * d("parley_store_commit_seconds_sum") / commits);
    const double acks = d("parley_send_ack_seconds_count");
    if (acks > 0) m["mean_server_send_ack_ms"] = R2(1000 * d("parley_send_ack_seconds_sum") / acks);
    if (b.m.Has("parley_connections")) m["parley_connections"] = b.m.Get("parley_connections");
    o["metrics"] = std::move(m);
  }
  return o;
}

void ServerLines(Ctx& c, const json::object& d) {
  std::string line = "server:";
  if (auto* v = d.if_contains("server_cpu_cores")) line += " cpu " + F("%.2f", v->to_number<double>()) + " cores";
  if (auto* v = d.if_contains("bench_cpu_cores")) line += ", bench cpu " + F("%.2f", v->to_number<double>()) + " cores";
  if (auto* m = d.if_contains("metrics")) {
    const auto& mo = m->get_object();
    if (auto* v = mo.if_contains("mean_batch_size")) line += ", group commit " + F("%.1f", v->to_number<double>()) + " appends/batch";
    if (auto* v = mo.if_contains("batches_per_s")) line += " at " + F("%.0f", v->to_number<double>()) + " batches/s";
    if (auto* v = mo.if_contains("mean_commit_ms")) line += ", commit " + F("%.2f", v->to_number<double>()) + " ms";
  }
  c.Line(line);
  if (auto* th = d.if_contains("server_cpu_by_thread")) {
    std::string t = "server cpu by thread:";
    for (auto& kv : th->get_object()) t += " " + std::string(kv.key()) + "=" + F("%.2f", kv.value().to_number<double>());
    c.Line(t);
  }
}

// ---------------------------------------------------------------- setup

std::vector<User> MakeUsers(Ctx& c, size_t n, std::string& error) {
  std::vector<User> users(n);
  for (size_t i = 0; i < n; ++i) users[i].id = c.tag + "-" + std::to_string(i);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  const int64_t t0 = NowNs();
  // Any node registers and logs in (they share the store): the setup clients
  // take the nodes round robin.
  auto work = [&](const ServerAddr& node) {
    HttpClient http(node.host, node.port);
    for (size_t i = next++; i < n && !failed; i = next++) {
      const std::string creds = json::serialize(json::object{{"user_id", users[i].id}, {"password", "bench-password"}});
      auto r = http.Request("POST", "/v1/users", creds);
      if (r.status != 201 && r.status != 409) {
        std::lock_guard lock(mu);
        error = "register " + users[i].id + ": " + std::to_string(r.status) + " " + r.body + r.error;
        failed = true;
        return;
      }
      r = http.Request("POST", "/v1/sessions", creds);
      boost::system::error_code ec;
      auto v = json::parse(r.body, ec);
      if (r.status != 200 || ec || !v.is_object() || !v.as_object().contains("token")) {
        std::lock_guard lock(mu);
        error = "login " + users[i].id + ": " + std::to_string(r.status) + " " + r.body + r.error;
        failed = true;
        return;
      }
      users[i].token = std::string(v.as_object()["token"].as_string());
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, c.o.setup_concurrency); ++i) {
    threads.emplace_back(work, std::cref(c.nodes[RoundRobinNode(i, c.nodes.size())]));
  }
  for (auto& t : threads) t.join();
  if (failed) return {};
  const double secs = Secs(NowNs() - t0);
  Progress("registered and logged in " + std::to_string(n) + " users in " + F("%.1f", secs) + " s");
  c.out["setup_users_seconds"] = R2(secs);
  c.out["setup_users_per_s"] = R2(static_cast<double>(n) / secs);
  return users;
}

EngineOptions MakeEngineOptions(Ctx& c, size_t connections) {
  EngineOptions e;
  e.servers = c.nodes;
  e.threads = c.o.threads;
  e.source_addrs = c.o.source_addrs > 0 ? c.o.source_addrs
                                        : static_cast<int>((connections + 4'999) / 5'000);
  e.max_connecting = c.o.max_connecting;
  e.payload_bytes = c.o.payload;
  e.seed = c.seed;
  e.tag = c.tag;
  e.backoff_base_ms = c.o.backoff_base_ms;
  e.backoff_max_ms = c.o.backoff_max_ms;
  c.out["source_addresses"] = e.source_addrs;
  return e;
}

bool ConnectEveryone(Ctx& c, Engine& engine, std::string& error, json::object* figures = nullptr) {
  const size_t n = engine.connections();
  Progress("connecting " + std::to_string(n) + " WebSockets");
  const int64_t t0 = NowNs();
  engine.ConnectAll();
  // At least 100 connections/s (a cluster's nodes share 2 cores with PostgreSQL here).
  const int timeout_ms = 60'000 + static_cast<int>(n) * 10;
  const bool ok = engine.WaitSynced(n, timeout_ms);
  const double secs = Secs(NowNs() - t0);
  if (figures) {
    (*figures)["connect_seconds"] = R2(secs);
    (*figures)["connects_per_s"] = R2(static_cast<double>(n) / secs);
  }
  if (!ok) {
    const Totals t = engine.GetTotals();
    error = "only " + std::to_string(t.synced_now) + " of " + std::to_string(n) +
            " connections authenticated and synced; first error: " + engine.first_error();
    return false;
  }
  Progress("all " + std::to_string(n) + " connected, authenticated and synced in " + F("%.1f", secs) + " s");
  return true;
}

// ---------------------------------------------------------------- correctness

json::object Correctness(Ctx& c, const CheckTotals& k, const Totals& t, uint64_t unacked, bool storm,
                         bool receipts_unsupported, bool drained = true) {
  json::object o;
  // When the run stopped before the server had delivered everything (drain
  // timeout), "lost" counts acked messages still undelivered at that moment.
  o["drained"] = drained;
  o["delivered_unique"] = k.delivered;
  o["lost"] = k.lost;
  o["duplicates"] = k.duplicates;
  o["out_of_order_seq"] = k.out_of_order;
  o["out_of_order_sender"] = k.sender_order;
  o["redelivered_after_reconnect"] = k.redelivered;
  o["bad_sender"] = k.bad_sender;
  o["resync_duplicates"] = t.resync_duplicates;
  o["resync_out_of_order_seq"] = t.resync_out_of_order;
  o["resync_out_of_order_sender"] = t.resync_sender_order;
  o["misrouted"] = t.misrouted;
  o["bad_frames"] = t.bad_frames;
  o["sent"] = t.sent;
  o["acked"] = t.acked;
  o["unacked"] = unacked;
  o["send_errors"] = t.send_errors;
  o["rate_limited"] = t.rate_limited;
  o["other_errors"] = t.other_errors;
  o["receipt_errors"] = t.receipt_errors;
  o["disconnects"] = t.disconnects;
  o["connect_failures"] = t.connect_failures;
  o["handshake_failures"] = t.handshake_failures;
  c.Problem("lost", k.lost);
  // Violations seen while a reconnected session's first sync ran: live frames
  // delivered between `ready` and the sync, followed by the sync's replay of
  // older entries (see docs/benchmarks.md). --tolerate-resync-races reports
  // them without failing the run.
  const bool tolerate = c.o.tolerate_resync_races;
  const uint64_t rd = tolerate ? t.resync_duplicates : 0, ro = tolerate ? t.resync_out_of_order : 0,
                 rs = tolerate ? t.resync_sender_order : 0;
  c.Problem("duplicates", k.duplicates - std::min(k.duplicates, rd));
  c.Problem("out of order (conversation seq)", k.out_of_order - std::min(k.out_of_order, ro));
  c.Problem("out of order (sender numbering)", k.sender_order - std::min(k.sender_order, rs));
  if (t.resync_duplicates + t.resync_out_of_order + t.resync_sender_order > 0) {
    c.Line("of which while a reconnected session's sync ran (live frames before the sync, then the replay): " +
           std::to_string(t.resync_duplicates) + " duplicates, " + std::to_string(t.resync_out_of_order) +
           " out of order (seq), " + std::to_string(t.resync_sender_order) + " out of order (sender)" +
           (tolerate ? " [tolerated: --tolerate-resync-races]" : ""));
  }
  c.Problem("bad sender index", k.bad_sender);
  c.Problem("misrouted", t.misrouted);
  c.Problem("bad frames", t.bad_frames);
  c.Problem("send errors", t.send_errors);
  c.Problem("other error frames", t.other_errors);
  if (!receipts_unsupported) c.Problem("receipt errors", t.receipt_errors);
  if (!storm) {
    c.Problem("unacked sends", unacked);
    c.Problem("disconnects", t.disconnects);
    c.Problem("connect failures", t.connect_failures);
    c.Problem("handshake failures", t.handshake_failures);
  }
  c.Line("correctness: delivered " + std::to_string(k.delivered) + ", lost " + std::to_string(k.lost) +
         (drained ? "" : " (acked but undelivered when the drain timed out)") +
         ", duplicates " + std::to_string(k.duplicates) + ", out-of-order " + std::to_string(k.out_of_order) +
         " (seq) / " + std::to_string(k.sender_order) + " (sender), misrouted " + std::to_string(t.misrouted) +
         ", unacked " + std::to_string(unacked) + ", send errors " + std::to_string(t.send_errors) +
         (storm ? ", redelivered by sync " + std::to_string(k.redelivered) : ""));
  return o;
}

std::vector<std::pair<size_t, size_t>> AllSenders(const Engine& e) {
  std::vector<std::pair<size_t, size_t>> s;
  for (size_t i = 0; i < e.connections(); ++i) s.push_back({i, 0});
  return s;
}

// Pairs of users in 1:1 conversations: connection 2p and 2p+1, on different
// nodes when there are several (PairNode); records how many pairs span two.
void AddPairs(Ctx& c, Engine& engine, const std::vector<User>& users, size_t pairs) {
  size_t cross = 0;
  for (size_t p = 0; p < pairs; ++p) {
    const size_t node0 = PairNode(p, 0, c.nodes.size()), node1 = PairNode(p, 1, c.nodes.size());
    if (node0 != node1) ++cross;
    for (uint32_t side = 0; side < 2; ++side) {
      const size_t ci = engine.AddConnection(&users[2 * p + side], side == 0 ? node0 : node1);
      Membership m;
      m.conv_index = static_cast<uint32_t>(p);
      m.member_index = side;
      m.members = 2;
      m.to = users[2 * p + (1 - side)].id;
      m.ledger = MemberLedger(2);
      engine.AddMembership(ci, std::move(m));
    }
  }
  c.out["cross_node_pairs"] = cross;
  if (c.nodes.size() > 1) {
    c.Line(std::to_string(cross) + " of " + std::to_string(pairs) + " pairs span two of the " +
           std::to_string(c.nodes.size()) + " nodes (every message crosses nodes)");
  }
}

// The first message of every pair (creates the direct conversation), drained.
bool WarmUpPairs(Engine& engine, size_t pairs, std::string& error) {
  std::vector<std::pair<size_t, size_t>> first;
  for (size_t p = 0; p < pairs; ++p) first.push_back({2 * p, 0});
  engine.SendOnce(first);
  if (!engine.Drain(60'000)) {
    error = "warm-up messages were not all acked and delivered; first error: " + engine.first_error();
    return false;
  }
  engine.TakeHistograms();
  return true;
}

struct Window {
  Sample s0, s1;
  Totals t0, t1;
  int64_t start = 0, end = 0;
};

// `perf record` of the server while it lives (--perf-record), once per run.
class PerfRecord {
 public:
  PerfRecord(Ctx& c) {
    if (c.o.perf_out.empty() || c.pids.size() != 1 || c.perf_done) return;
    c.perf_done = true;
    const std::string pid = std::to_string(c.pids[0]);
    pid_ = ::fork();
    if (pid_ == 0) {
      const int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0) {
        ::dup2(devnull, STDOUT_FILENO);
        ::dup2(devnull, STDERR_FILENO);
      }
      ::execlp("perf", "perf", "record", "-F", "999", "-g", "-p", pid.c_str(), "-o", c.o.perf_out.c_str(),
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    SleepMs(300);  // let perf attach
  }
  ~PerfRecord() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }

 private:
  pid_t pid_ = -1;
};

// Sends at `rate` for `duration` and returns the figures of the window.
Window RunWindow(Ctx& c, Engine& engine, const std::vector<std::pair<size_t, size_t>>& senders, double rate,
                 double duration) {
  PerfRecord perf(c);
  Window w;
  w.s0 = TakeSample(c);
  w.t0 = engine.GetTotals();
  w.start = NowNs();
  engine.StartSending(senders, rate, duration);
  const int64_t deadline = w.start + static_cast<int64_t>((duration + 30) * 1e9);
  SleepMs(static_cast<int64_t>(duration * 1000) - 50 > 0 ? static_cast<int64_t>(duration * 1000) - 50 : 0);
  while (!engine.SendingDone() && NowNs() < deadline) SleepMs(2);
  if (!engine.SendingDone()) engine.StopSending();
  w.end = NowNs();
  w.t1 = engine.GetTotals();
  w.s1 = TakeSample(c);
  return w;
}

void ThroughputFigures(Ctx& c, const Window& w, double rate, json::object& r, const char* delivered_name) {
  const double secs = Secs(w.end - w.start);
  const double sent = static_cast<double>(w.t1.sent - w.t0.sent) / secs;
  const double delivered = static_cast<double>(w.t1.delivered - w.t0.delivered) / secs;
  const double acked = static_cast<double>(w.t1.acked - w.t0.acked) / secs;
  r["offered_msg_per_s"] = rate;
  r["window_seconds"] = R2(secs);
  r["sent_msg_per_s"] = R2(sent);
  r["acked_msg_per_s"] = R2(acked);
  r[delivered_name] = R2(delivered);
  c.Line("offered " + F("%.0f", rate) + " msg/s, sent " + F("%.0f", sent) + "/s, acked (durable) " +
         F("%.0f", acked) + "/s, " + std::string(delivered_name) + " " + F("%.0f", delivered));
}

void LatencyLines(Ctx& c, const Histograms& h, json::object& r) {
  r["latency"] = LatencyJson(h.latency, true);
  r["ack_latency"] = LatencyJson(h.ack_latency, true);
  r["generator_lag"] = LatencyJson(h.lag);
  c.Line("delivery latency (scheduled send -> receiver read): " + LatencyLine(h.latency));
  c.Line("ack latency (scheduled send -> durable ack):        " + LatencyLine(h.ack_latency));
  c.Line("generator lag (scheduled -> written):               " + LatencyLine(h.lag));
}

void MaybePlotLatency(Ctx& c, const std::string& title, const Histograms& h) {
  if (c.o.plot_path.empty()) return;
  std::ofstream(c.o.plot_path) << LatencySvg(title, {{"delivery", &h.latency}, {"durable ack", &h.ack_latency}});
}

// Several bench processes holding one idle set too large for one process
// (scripts/bench-cluster.sh): each one, once connected, leaves a file in
// --barrier-dir and waits until --barrier-count have, so the holds overlap.
void WaitAtBarrier(Ctx& c, json::object& r) {
  namespace fs = std::filesystem;
  const std::string& dir = c.o.barrier_dir;
  std::ofstream(dir + "/ready-" + std::to_string(::getpid())) << "connected\n";
  Progress("connected; waiting until " + std::to_string(c.o.barrier_count) + " bench processes are");
  const int64_t t0 = NowNs();
  const int64_t deadline = t0 + static_cast<int64_t>(c.o.barrier_timeout_s * 1e9);
  size_t ready = 0;
  while (true) {
    ready = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().filename().string().starts_with("ready-")) ++ready;
    }
    if (ready >= static_cast<size_t>(c.o.barrier_count) || NowNs() > deadline) break;
    SleepMs(100);
  }
  r["barrier_wait_seconds"] = R2(Secs(NowNs() - t0));
  c.Problem("bench processes not connected within --barrier-timeout",
            static_cast<size_t>(c.o.barrier_count) - std::min<size_t>(ready, c.o.barrier_count));
}

// Server RSS per node of an idle run (connections spread round robin).
void IdleRssPerNode(Ctx& c, const Sample& before, const Sample& after, size_t n, json::object& r) {
  const size_t nodes = c.nodes.size();
  if (nodes < 2 || before.node_rss_kb.size() != nodes || after.node_rss_kb.size() != nodes) return;
  json::array per_node;
  for (size_t i = 0; i < nodes; ++i) {
    const size_t conns = n / nodes + (i < n % nodes ? 1 : 0);
    const int64_t delta = after.node_rss_kb[i] - before.node_rss_kb[i];
    const double per = conns ? static_cast<double>(delta) / static_cast<double>(conns) : 0;
    per_node.push_back(json::object{{"address", c.nodes[i].ToString()},
                                    {"connections", conns},
                                    {"rss_before_kib", before.node_rss_kb[i]},
                                    {"rss_after_kib", after.node_rss_kb[i]},
                                    {"rss_per_connection_kib", R2(per)}});
    c.Line("  node " + c.nodes[i].ToString() + ": " + std::to_string(conns) + " connections, RSS " +
           std::to_string(before.node_rss_kb[i]) + " -> " + std::to_string(after.node_rss_kb[i]) + " KiB (" +
           F("%.2f", per) + " KiB per connection)");
  }
  r["nodes"] = std::move(per_node);
}

// ---------------------------------------------------------------- scenarios

int Idle(Ctx& c) {
  const size_t n = static_cast<size_t>(c.o.connections);
  std::string error;
  auto users = MakeUsers(c, n, error);
  if (users.empty()) throw std::runtime_error(error);
  Engine engine(MakeEngineOptions(c, n));
  for (size_t i = 0; i < n; ++i) engine.AddConnection(&users[i], RoundRobinNode(i, c.nodes.size()));
  engine.Start();
  json::object r;
  SleepMs(500);
  const Sample before = TakeSample(c);
  const int64_t self_rss0 = ReadRssKb(::getpid());
  if (!ConnectEveryone(c, engine, error, &r)) throw std::runtime_error(error);
  const Sample connected = TakeSample(c);
  if (!c.o.barrier_dir.empty()) WaitAtBarrier(c, r);
  SleepMs(2000);  // let the server settle
  const Sample settled = TakeSample(c);
  const int64_t self_rss1 = ReadRssKb(::getpid());
  Progress("holding for " + F("%.0f", c.o.duration) + " s");
  SleepMs(static_cast<int64_t>(c.o.duration * 1000));
  const Sample held = TakeSample(c);
  const Totals t = engine.GetTotals();
  r["connections"] = n;
  r["open_at_end"] = t.synced_now;
  c.Line("connections: " + std::to_string(n) + " requested, " + std::to_string(t.synced_now) +
         " authenticated+synced at the end; connected in " + F("%.1f", r["connect_seconds"].to_number<double>()) +
         " s (" + F("%.0f", r["connects_per_s"].to_number<double>()) + "/s)");
  if (before.rss_kb > 0 && settled.rss_kb > 0) {
    const double per = static_cast<double>(settled.rss_kb - before.rss_kb) / static_cast<double>(n);
    r["server_rss_before_kib"] = before.rss_kb;
    r["server_rss_after_kib"] = settled.rss_kb;
    r["server_rss_per_connection_kib"] = R2(per);
    c.Line("server RSS: " + std::to_string(before.rss_kb) + " KiB before, " + std::to_string(settled.rss_kb) +
           " KiB with the connections: " + F("%.2f", per) + " KiB per connection");
    IdleRssPerNode(c, before, settled, n, r);
  } else {
    c.Line("server RSS: unknown (give --server-pid or --start-server)");
  }
  if (self_rss0 > 0) r["bench_rss_per_connection_kib"] = R2(static_cast<double>(self_rss1 - self_rss0) / n);
  json::object connect = ServerDelta(before, connected);
  json::object hold = ServerDelta(settled, held);
  c.Line("during connect:");
  ServerLines(c, connect);
  c.Line("while holding (idle):");
  ServerLines(c, hold);
  r["server_during_connect"] = std::move(connect);
  r["server_while_idle"] = std::move(hold);
  c.Problem("connections not open at the end", n - std::min<uint64_t>(n, t.synced_now));
  engine.Stop();
  uint64_t unacked = 0;
  const CheckTotals k = engine.Finalize(&unacked);
  c.out["correctness"] = Correctness(c, k, engine.GetTotals(), unacked, false, false);
  c.out["results"] = std::move(r);
  return 0;
}

int Pairs(Ctx& c, bool receipts) {
  const size_t pairs = static_cast<size_t>(c.o.pairs);
  std::string error;
  auto users = MakeUsers(c, 2 * pairs, error);
  if (users.empty()) throw std::runtime_error(error);
  EngineOptions eo = MakeEngineOptions(c, 2 * pairs);
  eo.send_receipts = receipts;
  Engine engine(eo);
  AddPairs(c, engine, users, pairs);
  engine.Start();
  json::object r;
  if (!ConnectEveryone(c, engine, error, &r)) throw std::runtime_error(error);
  if (!WarmUpPairs(engine, pairs, error)) throw std::runtime_error(error);
  Progress("sending " + F("%.0f", c.o.rate) + " msg/s for " + F("%.0f", c.o.duration) + " s");
  Window w = RunWindow(c, engine, AllSenders(engine), c.o.rate, c.o.duration);
  const bool drained = engine.Drain(c.o.drain_timeout_ms);
  r["drained"] = drained;
  if (!drained) c.Problem("not drained within --drain-timeout-ms", 1);
  ThroughputFigures(c, w, c.o.rate, r, "delivered_msg_per_s");
  const Histograms h = engine.TakeHistograms();
  LatencyLines(c, h, r);
  json::object sd = ServerDelta(w.s0, w.s1);
  ServerLines(c, sd);
  r["server"] = std::move(sd);
  const Totals t = engine.GetTotals();
  bool unsupported = false;
  if (receipts) {
    SleepMs(800);  // the server coalesces receipts and flushes them periodically
    const Sample after = TakeSample(c);
    json::object rr;
    // Over the same window as the server's counters (the warm-up is before it).
    const uint64_t receipts_sent = t.receipts_sent - w.t0.receipts_sent;
    rr["receipt_frames_sent"] = receipts_sent;
    rr["receipt_error_replies"] = t.receipt_errors;
    rr["receipt_frames_received"] = t.receipts_received;
    unsupported = t.receipt_errors > 0;
    if (unsupported) {
      rr["status"] = "receipts unsupported by server";
      rr["server_error"] = engine.first_error();
      c.Line("receipts: receipts unsupported by server (" + std::to_string(t.receipt_errors) + " of " +
             std::to_string(receipts_sent) + " receipt frames answered with an error: " + engine.first_error() + ")");
    } else if (w.s0.has_m && after.has_m) {
      const double frames = after.m.Get("parley_receipt_frames_total") - w.s0.m.Get("parley_receipt_frames_total");
      const double writes =
          after.m.Get("parley_receipt_store_writes_total") - w.s0.m.Get("parley_receipt_store_writes_total");
      rr["server_receipt_frames"] = frames;
      rr["server_receipt_store_writes"] = writes;
      if (writes > 0) rr["frames_per_store_write"] = R2(frames / writes);
      rr["status"] = after.m.Has("parley_receipt_store_writes_total") ? "supported" : "no receipt metrics";
      c.Line("receipts: " + std::to_string(receipts_sent) + " read receipts sent, server counted " +
             F("%.0f", frames) + " frames and " + F("%.0f", writes) + " store writes (" +
             (writes > 0 ? F("%.1f", frames / writes) : std::string("-")) + " frames per write); " +
             std::to_string(t.receipts_received) + " receipt frames forwarded to senders");
    }
    r["receipts"] = std::move(rr);
  }
  engine.Stop();
  uint64_t unacked = 0;
  const CheckTotals k = engine.Finalize(&unacked);
  c.out["correctness"] = Correctness(c, k, engine.GetTotals(), unacked, false, unsupported, drained);
  MaybePlotLatency(c, std::string(receipts ? "receipts" : "pairs") + ": " + std::to_string(pairs) + " pairs at " +
                          F("%.0f", c.o.rate) + " msg/s",
                   h);
  c.out["results"] = std::move(r);
  return 0;
}

int Saturate(Ctx& c) {
  const size_t pairs = static_cast<size_t>(c.o.pairs);
  std::string error;
  auto users = MakeUsers(c, 2 * pairs, error);
  if (users.empty()) throw std::runtime_error(error);
  Engine engine(MakeEngineOptions(c, 2 * pairs));
  AddPairs(c, engine, users, pairs);
  engine.Start();
  json::object r;
  if (!ConnectEveryone(c, engine, error, &r)) throw std::runtime_error(error);
  if (!WarmUpPairs(engine, pairs, error)) throw std::runtime_error(error);
  std::vector<SaturateStep> steps;
  json::array rows;
  double rate = c.o.start_rate;
  double best = 0;
  bool last_drained = true;
  std::string stop_reason = "max steps reached";
  c.Line(" offered/s    sent/s  deliv/s   p50 ms   p90 ms   p99 ms  p99.9 ms   max ms  srv cpu  bench cpu  batch  lost");
  for (int i = 0; i < c.o.max_steps; ++i) {
    Progress("step " + std::to_string(i + 1) + ": " + F("%.0f", rate) + " msg/s for " + F("%.0f", c.o.step_duration) + " s");
    Window w = RunWindow(c, engine, AllSenders(engine), rate, c.o.step_duration);
    const bool drained = engine.Drain(c.o.drain_timeout_ms);
    last_drained = drained;
    const Histograms h = engine.TakeHistograms();
    const Totals t = engine.GetTotals();
    const double secs = Secs(w.end - w.start);
    SaturateStep st;
    st.offered = rate;
    st.sent = static_cast<double>(w.t1.sent - w.t0.sent) / secs;
    st.delivered = static_cast<double>(w.t1.delivered - w.t0.delivered) / secs;
    st.p50_ms = h.latency.Percentile(50) / 1e6;
    st.p99_ms = h.latency.Percentile(99) / 1e6;
    st.p999_ms = h.latency.Percentile(99.9) / 1e6;
    st.max_ms = h.latency.max() / 1e6;
    const uint64_t missing = t.expected_deliveries > t.delivered ? t.expected_deliveries - t.delivered : 0;
    json::object sd = ServerDelta(w.s0, w.s1);
    json::object row;
    row["offered_msg_per_s"] = rate;
    row["sent_msg_per_s"] = R2(st.sent);
    row["delivered_msg_per_s"] = R2(st.delivered);
    row["latency"] = LatencyJson(h.latency);
    row["ack_latency"] = LatencyJson(h.ack_latency);
    row["generator_lag"] = LatencyJson(h.lag);
    row["drained"] = drained;
    row["undelivered_after_drain"] = missing;
    const double srv = sd.contains("server_cpu_cores") ? sd["server_cpu_cores"].to_number<double>() : -1;
    const double bch = sd.contains("bench_cpu_cores") ? sd["bench_cpu_cores"].to_number<double>() : -1;
    double batch = 0;
    if (auto* m = sd.if_contains("metrics")) {
      if (auto* b = m->get_object().if_contains("mean_batch_size")) batch = b->to_number<double>();
    }
    row["server"] = std::move(sd);
    rows.push_back(std::move(row));
    steps.push_back(st);
    char line[256];
    std::snprintf(line, sizeof line, "%10.0f %9.0f %8.0f %8.3f %8.3f %8.3f %9.3f %8.1f %8.2f %10.2f %6.1f %5llu",
                  st.offered, st.sent, st.delivered, st.p50_ms, h.latency.Percentile(90) / 1e6, st.p99_ms,
                  st.p999_ms, st.max_ms, srv, bch, batch, static_cast<unsigned long long>(missing));
    c.Line(line);
    if (missing > 0 || !drained) {
      stop_reason = "loss or backlog at " + F("%.0f", rate) + " msg/s";
      break;
    }
    if (t.send_errors > 0) {
      stop_reason = "send errors at " + F("%.0f", rate) + " msg/s";
      break;
    }
    if (st.p99_ms > c.o.p99_limit_ms) {
      stop_reason = "p99 " + F("%.1f", st.p99_ms) + " ms > " + F("%.0f", c.o.p99_limit_ms) + " ms at " +
                    F("%.0f", rate) + " msg/s";
      break;
    }
    if (st.delivered >= 0.95 * rate) best = std::max(best, st.delivered);
    rate *= c.o.rate_factor;
  }
  r["steps"] = std::move(rows);
  r["stop_reason"] = stop_reason;
  r["max_delivered_msg_per_s_within_limit"] = R2(best);
  c.Line("stopped: " + stop_reason + "; highest delivered rate with p99 <= " + F("%.0f", c.o.p99_limit_ms) +
         " ms and no loss: " + F("%.0f", best) + " msg/s");
  engine.Stop();
  uint64_t unacked = 0;
  const CheckTotals k = engine.Finalize(&unacked);
  c.out["correctness"] = Correctness(c, k, engine.GetTotals(), unacked, false, false, last_drained);
  if (!c.o.plot_path.empty()) {
    std::ofstream(c.o.plot_path) << SaturateSvg("saturate: " + std::to_string(pairs) + " pairs, " +
                                                    F("%.0f", c.o.step_duration) + " s steps",
                                                steps, c.o.p99_limit_ms);
  }
  c.out["results"] = std::move(r);
  return 0;
}

int Group(Ctx& c) {
  const size_t groups = static_cast<size_t>(c.o.groups), members = static_cast<size_t>(c.o.members);
  const size_t senders_per = c.o.senders_per_group > 0 ? std::min<size_t>(c.o.senders_per_group, members) : members;
  std::string error;
  auto users = MakeUsers(c, groups * members, error);
  if (users.empty()) throw std::runtime_error(error);
  std::vector<std::string> conv_ids(groups);
  HttpClient http(c.host, c.port);
  for (size_t g = 0; g < groups; ++g) {
    json::array ids;
    for (size_t j = 0; j < members; ++j) ids.push_back(json::string(users[g * members + j].id));
    const std::string body = json::serialize(json::object{{"name", "bench group " + std::to_string(g)}, {"members", ids}});
    auto res = http.Request("POST", "/v1/groups", body, users[g * members].token);
    boost::system::error_code ec;
    auto v = json::parse(res.body, ec);
    if (res.status != 201 || ec || !v.is_object() || !v.as_object().contains("conversation_id")) {
      throw std::runtime_error("create group: " + std::to_string(res.status) + " " + res.body + res.error);
    }
    conv_ids[g] = std::string(v.as_object()["conversation_id"].as_string());
  }
  Engine engine(MakeEngineOptions(c, groups * members));
  std::vector<std::pair<size_t, size_t>> senders, first;
  for (size_t g = 0; g < groups; ++g) {
    for (size_t j = 0; j < members; ++j) {
      const size_t ci = engine.AddConnection(&users[g * members + j], RoundRobinNode(g * members + j, c.nodes.size()));
      Membership m;
      m.conv_index = static_cast<uint32_t>(g);
      m.member_index = static_cast<uint32_t>(j);
      m.members = static_cast<uint32_t>(members);
      m.conv_id = conv_ids[g];
      m.ledger = MemberLedger(static_cast<uint32_t>(members));
      engine.AddMembership(ci, std::move(m));
      if (j < senders_per) senders.push_back({ci, 0});
      if (j == 0) first.push_back({ci, 0});
    }
  }
  engine.Start();
  json::object r;
  if (!ConnectEveryone(c, engine, error, &r)) throw std::runtime_error(error);
  engine.SendOnce(first);
  if (!engine.Drain(60'000)) throw std::runtime_error("group warm-up not delivered: " + engine.first_error());
  engine.TakeHistograms();
  Progress("sending " + F("%.0f", c.o.rate) + " msg/s into " + std::to_string(groups) + " groups of " +
           std::to_string(members) + " for " + F("%.0f", c.o.duration) + " s");
  Window w = RunWindow(c, engine, senders, c.o.rate, c.o.duration);
  const bool drained = engine.Drain(c.o.drain_timeout_ms);
  r["drained"] = drained;
  if (!drained) c.Problem("not drained within --drain-timeout-ms", 1);
  r["groups"] = groups;
  r["members"] = members;
  r["senders_per_group"] = senders_per;
  r["offered_deliveries_per_s"] = R2(c.o.rate * static_cast<double>(members - 1));
  ThroughputFigures(c, w, c.o.rate, r, "deliveries_per_s");
  const Histograms h = engine.TakeHistograms();
  LatencyLines(c, h, r);
  json::object sd = ServerDelta(w.s0, w.s1);
  ServerLines(c, sd);
  r["server"] = std::move(sd);
  engine.Stop();
  uint64_t unacked = 0;
  const CheckTotals k = engine.Finalize(&unacked);
  c.out["correctness"] = Correctness(c, k, engine.GetTotals(), unacked, false, false, drained);
  MaybePlotLatency(c, "group: " + std::to_string(groups) + " x " + std::to_string(members) + " members at " +
                          F("%.0f", c.o.rate) + " msg/s",
                   h);
  c.out["results"] = std::move(r);
  return 0;
}

int Storm(Ctx& c) {
  const size_t pairs = static_cast<size_t>(std::max(1, c.o.connections / 2));
  std::string mode = c.o.storm_mode;
  if (mode.empty()) mode = c.server ? "kill" : "close";
  if (mode == "kill" && !c.server) throw std::runtime_error("--storm-mode kill needs --start-server or --server-cmd");
  std::string error;
  auto users = MakeUsers(c, 2 * pairs, error);
  if (users.empty()) throw std::runtime_error(error);
  EngineOptions eo = MakeEngineOptions(c, 2 * pairs);
  eo.reconnect = true;
  Engine engine(eo);
  AddPairs(c, engine, users, pairs);
  engine.Start();
  json::object r;
  r["mode"] = mode;
  r["connections"] = 2 * pairs;
  if (!ConnectEveryone(c, engine, error, &r)) throw std::runtime_error(error);
  if (!WarmUpPairs(engine, pairs, error)) throw std::runtime_error(error);
  const size_t n = 2 * pairs;
  Progress("sending " + F("%.0f", c.o.rate) + " msg/s for " + F("%.0f", c.o.duration) + " s; the storm hits at 40 %");
  const Totals before = engine.GetTotals();
  engine.StartSending(AllSenders(engine), c.o.rate, c.o.duration);
  SleepMs(static_cast<int64_t>(c.o.duration * 400));
  const int64_t event = NowNs();
  double restart_s = 0;
  if (mode == "kill") {
    Progress("kill -9 the server and restart it");
    c.server->Kill9();
    std::string err;
    if (!c.server->Start(c.listen, 60'000, err)) throw std::runtime_error("restart: " + err);
    c.pids = {c.server->pid()};
    restart_s = Secs(NowNs() - event);
    r["server_restart_seconds"] = R2(restart_s);
  } else {
    Progress("closing every connection at once");
    engine.DropAll();
  }
  const Sample after_restart = TakeSample(c);
  // Wait until everyone noticed, then until everyone is back.
  const int64_t notice_deadline = NowNs() + 5'000'000'000;
  while (engine.GetTotals().synced_now == n && NowNs() < notice_deadline) SleepMs(1);
  const int64_t deadline = event + static_cast<int64_t>(c.o.storm_timeout * 1e9);
  uint64_t low = n;
  while (NowNs() < deadline) {
    const uint64_t s = engine.GetTotals().synced_now;
    low = std::min(low, s);
    if (s == n) break;
    SleepMs(2);
  }
  const int64_t back = NowNs();
  const bool all_back = engine.GetTotals().synced_now == n;
  const Sample recovered = TakeSample(c);
  const double recover_s = Secs(back - event);
  r["all_back"] = all_back;
  r["seconds_until_all_back_and_synced"] = R2(recover_s);
  r["lowest_connected"] = low;
  if (!all_back) c.Problem("connections not back within --storm-timeout", n - engine.GetTotals().synced_now);
  json::object sd = ServerDelta(after_restart, recovered);
  c.Line("storm (" + mode + "): " + std::to_string(n) + " clients; all back, authenticated and synced " +
         (all_back ? "after " + F("%.2f", recover_s) + " s" : std::string("NOT within the timeout")) +
         (mode == "kill" ? " (server restart took " + F("%.2f", restart_s) + " s)" : ""));
  c.Line("during recovery:");
  ServerLines(c, sd);
  r["server_during_recovery"] = std::move(sd);
  while (!engine.SendingDone()) SleepMs(5);
  // Unacked sends (in flight at the kill) may never be acked: wait for deliveries only.
  const int64_t drain_deadline = NowNs() + int64_t{c.o.drain_timeout_ms} * 1'000'000;
  while (NowNs() < drain_deadline) {
    const Totals t = engine.GetTotals();
    if (t.delivered >= t.expected_deliveries) break;
    SleepMs(5);
  }
  const Totals t = engine.GetTotals();
  r["reconnect_attempts"] = t.reconnects - before.reconnects;
  r["connect_failures"] = t.connect_failures - before.connect_failures;
  r["handshake_failures"] = t.handshake_failures - before.handshake_failures;
  r["auth_failures"] = t.auth_failures - before.auth_failures;
  r["disconnects_seen"] = t.disconnects - before.disconnects;
  r["sends_skipped_while_down"] = t.skipped_sends - before.skipped_sends;
  r["sync_rounds"] = t.sync_rounds - before.sync_rounds;
  c.Line("errors while reconnecting: " + std::to_string(t.connect_failures - before.connect_failures) +
         " refused/failed connects, " + std::to_string(t.handshake_failures - before.handshake_failures) +
         " failed handshakes (" + std::to_string(t.auth_failures - before.auth_failures) + " auth), " +
         std::to_string(t.reconnects - before.reconnects) + " reconnect attempts; " +
         std::to_string(t.skipped_sends - before.skipped_sends) + " scheduled sends skipped while down");
  const Histograms h = engine.TakeHistograms();
  r["latency"] = LatencyJson(h.latency, true);
  engine.Stop();
  uint64_t unacked = 0;
  const CheckTotals k = engine.Finalize(&unacked);
  c.out["correctness"] = Correctness(c, k, engine.GetTotals(), unacked, true, false);
  r["unacked_in_flight_at_storm"] = unacked;
  MaybePlotLatency(c, "storm: delivery latency", h);
  c.out["results"] = std::move(r);
  return 0;
}

}  // namespace

std::vector<std::string> BenchServerArgs(const std::string& durability) {
  return {"--durability", durability, "--argon2-opslimit", "1", "--argon2-memlimit-kib", "8",
          "--send-rate", "1000000", "--send-burst", "1000000",
          "--login-rate-per-min", "100000000", "--register-rate-per-min", "100000000",
          "--address-send-rate", "1000000", "--address-send-burst", "1000000",
          // One load generator is one address: no per-address connection budget.
          "--handshake-rate-per-address", "0"};
}

int RunScenario(const Options& o) {
  Ctx c(o);
  c.seed = o.seed ? o.seed : static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  {
    std::mt19937_64 rng(c.seed);
    const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    c.tag = "b";
    for (int i = 0; i < 6; ++i) c.tag += alphabet[rng() % 36];
  }
  const uint64_t fds = RaiseFdLimit();
  c.out["scenario"] = o.scenario;
  json::object params;
  params["threads"] = o.threads;
  params["payload_bytes"] = o.payload;
  params["seed"] = c.seed;
  params["fd_limit"] = fds;
  if (o.scenario == "idle" || o.scenario == "storm") params["connections"] = o.connections;
  if (o.scenario == "pairs" || o.scenario == "saturate" || o.scenario == "receipts") params["pairs"] = o.pairs;
  if (o.scenario != "idle" && o.scenario != "saturate") params["rate"] = o.rate;
  if (o.scenario != "saturate") params["duration_s"] = o.duration;
  if (o.scenario == "group") {
    params["groups"] = o.groups;
    params["members"] = o.members;
  }
  if (o.scenario == "saturate") {
    params["start_rate"] = o.start_rate;
    params["rate_factor"] = o.rate_factor;
    params["step_duration_s"] = o.step_duration;
    params["p99_limit_ms"] = o.p99_limit_ms;
  }
  if (!o.start_server.empty()) params["durability"] = o.durability;
  c.out["params"] = std::move(params);
  c.out["nproc"] = std::thread::hardware_concurrency();
  if (o.connections >= static_cast<int>(fds) - 100 && (o.scenario == "idle" || o.scenario == "storm")) {
    std::cerr << "parley-bench: " << o.connections << " connections exceed this process's fd limit (" << fds
              << "); lower --connections\n";
    return 2;
  }

  if (o.connections < 1 || o.pairs < 1 || o.groups < 1 || o.members < 2 || o.threads < 1 || o.rate < 0 ||
      o.duration < 0) {
    std::cerr << "parley-bench: sizes must be positive (--groups >= 1, --members >= 2, ...)\n";
    return 2;
  }
  int rc = 0;
  try {
    std::string error;
    if (!SetUpServer(c, error)) throw std::runtime_error("server: " + error);
    if (o.scenario == "idle") rc = Idle(c);
    if (o.scenario == "pairs") rc = Pairs(c, false);
    if (o.scenario == "receipts") rc = Pairs(c, true);
    if (o.scenario == "saturate") rc = Saturate(c);
    if (o.scenario == "group") rc = Group(c);
    if (o.scenario == "storm") rc = Storm(c);
  } catch (const std::exception& e) {
    std::cerr << "parley-bench: " << o.scenario << ": " << e.what() << "\n";
    c.out["error"] = e.what();
    rc = 2;
  }
  TearDownServer(c);

  c.out["problems"] = c.problems;
  json::array pl;
  for (auto& p : c.problem_list) pl.push_back(json::string(p));
  c.out["problem_list"] = std::move(pl);
  c.out["ok"] = rc == 0 && c.problems == 0;

  std::cout << "== parley-bench " << o.scenario << " ==\n";
  for (const auto& l : c.table) std::cout << l << "\n";
  if (c.problems) {
    std::cout << "PROBLEMS:";
    for (auto& p : c.problem_list) std::cout << " [" << p << "]";
    std::cout << "\n";
  } else if (rc == 0) {
    std::cout << "check: OK (no loss, duplicates, order violations or errors)\n";
  }
  if (!o.json_path.empty()) std::ofstream(o.json_path) << PrettyJson(c.out);
  if (rc != 0) return rc;
  return (o.fail_on_error && c.problems) ? 1 : 0;
}

}  // namespace parley::bench
