// The scenarios of SPEC section 8 and the options they share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace parley::bench {

struct Options {
  std::string scenario;

  // The server: an external one (--server), or one the bench starts
  // (--start-server BINARY with a fresh data dir, or --server-cmd CMD).
  std::string server;
  std::string start_server;
  std::vector<std::string> server_args;
  std::string server_cmd;
  std::string server_pid;  // PID or PID,PID,... one per --server node
  std::string data_dir;
  bool keep_data = false;
  std::string durability = "fsync";
  int server_threads = 0;

  // The generator.
  int threads = 2;
  int setup_concurrency = 16;
  int source_addrs = 0;  // 0: as many 127.0.0.x as the connection count needs
  int max_connecting = 256;
  size_t payload = 64;
  uint64_t seed = 0;

  // Sizes.
  int connections = 1000;      // idle, storm
  int pairs = 100;             // pairs, saturate, receipts
  double rate = 1000;          // msg/s in total (pairs, group, receipts, storm)
  double duration = 10;        // seconds of measured sending (idle: holding)
  int groups = 2;
  int members = 500;
  int senders_per_group = 0;   // 0: every member
  double start_rate = 2000;
  double rate_factor = 1.5;
  int max_steps = 12;
  double step_duration = 5;
  double p99_limit_ms = 100;
  std::string storm_mode;      // kill | close (default: kill when the bench can restart the server)
  int backoff_base_ms = 100;
  int backoff_max_ms = 3000;
  double storm_timeout = 60;
  int drain_timeout_ms = 15000;
  std::string barrier_dir;  // idle: several bench processes hold their connections together
  int barrier_count = 1;
  double barrier_timeout_s = 900;

  // Output.
  std::string json_path;
  std::string plot_path;
  bool fail_on_error = false;
  bool tolerate_resync_races = false;
  std::string perf_out;  // perf record the server during the (first) measured window
};

// The arguments the bench gives a server it starts, besides --listen and
// --data-dir: cheap password hashing (setup speed only) and rate limits high
// enough that the server's paths are measured, not its limiters.
std::vector<std::string> BenchServerArgs(const std::string& durability);

// Runs the scenario; returns the process exit code (1 when --fail-on-error
// and the checker found a problem, 2 on setup failure).
int RunScenario(const Options& options);

}  // namespace parley::bench
