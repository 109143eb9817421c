// Plumbing of parley-bench outside the hot path: a synchronous HTTP client for
// setup and /metrics, the server process (start, kill -9, restart), /proc
// readings (RSS, CPU, CPU per thread name) and the Prometheus text parser.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "placement.h"

namespace parley::bench {

int64_t NowNs();  // steady clock, the one clock of every latency

// ---- HTTP (keep-alive, one request at a time; reconnects on error) ----
struct HttpResponse {
  int status = 0;  // 0: transport error (see error)
  std::string body;
  std::string error;
};

class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port, std::string source_addr = "");
  ~HttpClient();
  HttpResponse Request(const std::string& method, const std::string& target, const std::string& body,
                       const std::string& token = "");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- the server process ----
struct ServerLaunch {
  std::string binary;             // parley-server, started with `args` + --listen
  std::vector<std::string> args;  // everything but --listen
  std::string shell_cmd;          // or: a shell command (address given separately)
  std::string log_path;           // stdout and stderr of the server go here
};

class ServerProcess {
 public:
  explicit ServerProcess(ServerLaunch launch) : launch_(std::move(launch)) {}
  ~ServerProcess();

  // Starts it; with a binary, on `listen` ("127.0.0.1:0" the first time) and
  // waits for its "event=listening address=" line; with a shell command, waits
  // until `address` answers /healthz. False with `error` on failure.
  bool Start(const std::string& listen, int timeout_ms, std::string& error);
  // kill -9 and reap.
  void Kill9();
  // SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the exit status or -1.
  int Terminate(int timeout_ms);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& address() const { return address_; }  // host:port once started
  void set_address(std::string a) { address_ = std::move(a); }

 private:
  ServerLaunch launch_;
  pid_t pid_ = -1;
  std::string address_;
};

// Polls GET /healthz until it answers 200 or timeout; true when it did.
bool WaitHealthy(const std::string& host, uint16_t port, int timeout_ms);

// ---- /proc ----
int64_t ReadRssKb(pid_t pid);          // VmRSS, -1 when unreadable
int64_t ReadCpuTicks(pid_t pid);       // utime + stime of the whole process
std::map<std::string, int64_t> ReadThreadCpuTicks(pid_t pid);  // per thread name (comm)
int64_t ClockTicksPerSecond();

// ---- Prometheus text ----
class MetricsSnapshot {
 public:
  bool Parse(const std::string& text);
  // Sum of every series of this exact metric name (all label sets). 0 if absent.
  double Get(const std::string& name) const;
  bool Has(const std::string& name) const;
  // Adds every series of `other` (the sum over the nodes of a cluster).
  void Add(const MetricsSnapshot& other);

 private:
  std::map<std::string, double> values_;  // by metric name, label sets summed
};

// GET /metrics; false when the server could not be read.
bool ScrapeMetrics(const std::string& host, uint16_t port, MetricsSnapshot& out);

// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new limit.
uint64_t RaiseFdLimit();

}  // namespace parley::bench
