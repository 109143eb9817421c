// parley-bench: load generator and correctness checker of Parley (SPEC section
// 8). See docs/benchmarks.md for the scenarios, the method and the results.
#include <CLI/CLI.hpp>
#include <iostream>

#include "scenarios.h"

int main(int argc, char** argv) {
  parley::bench::Options o;
  CLI::App app{"parley-bench: load generator and correctness checker for parley-server"};
  bool print_server_args = false;
  app.add_option("--scenario", o.scenario, "idle | pairs | saturate | group | receipts | storm")
      ->check(CLI::IsMember({"idle", "pairs", "saturate", "group", "receipts", "storm"}));
  auto* server = app.add_option("--server", o.server,
                                "HOST:PORT of a running server, or HOST:PORT,HOST:PORT,... of the nodes "
                                "of a cluster (pairs span two nodes, other connections go round robin)");
  auto* start = app.add_option("--start-server", o.start_server,
                               "Path of parley-server: start a fresh one (temp data dir, free port, "
                               "cheap argon2, high rate limits) and stop it at the end");
  app.add_option("--server-arg", o.server_args, "Extra argument for the started server (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--server-cmd", o.server_cmd,
                 "Shell command that starts the server on --server (storm restarts it with it)")
      ->needs(server);
  app.add_option("--server-pid", o.server_pid,
                 "pid of an external server, for RSS and CPU figures (PID,PID,... one per --server node)");
  app.add_option("--data-dir", o.data_dir, "Data dir of the started server (default: a new temp dir)");
  app.add_flag("--keep-data", o.keep_data, "Keep the started server's data dir");
  app.add_option("--durability", o.durability, "Durability of the started server: fsync | os")
      ->check(CLI::IsMember({"fsync", "os"}))
      ->capture_default_str();
  app.add_option("--server-threads", o.server_threads, "io threads of the started server (0: its default)");
  start->excludes(server);

  app.add_option("--threads", o.threads, "Generator threads (one io_context each)")->capture_default_str();
  app.add_option("--setup-concurrency", o.setup_concurrency, "Parallel HTTP clients for register/login")
      ->capture_default_str();
  app.add_option("--source-addrs", o.source_addrs,
                 "Bind connections to 127.0.0.1..127.0.0.N round robin (0: auto, one per 5,000 connections)")
      ->capture_default_str();
  app.add_option("--max-connecting", o.max_connecting, "WebSocket handshakes in flight")->capture_default_str();
  app.add_option("--payload", o.payload, "Bytes of message content")->capture_default_str();
  app.add_option("--seed", o.seed, "Random seed (0: from the clock)");

  app.add_option("--connections", o.connections, "Connections (idle, storm)")->capture_default_str();
  app.add_option("--pairs", o.pairs, "Pairs of users in 1:1 chats (pairs, saturate, receipts)")->capture_default_str();
  app.add_option("--rate", o.rate, "Messages per second in total (pairs, group, receipts, storm)")
      ->capture_default_str();
  app.add_option("--duration", o.duration, "Seconds of measured sending (idle: seconds holding)")
      ->capture_default_str();
  app.add_option("--groups", o.groups, "Groups (group)")->capture_default_str();
  app.add_option("--members", o.members, "Members per group (group)")->capture_default_str();
  app.add_option("--senders-per-group", o.senders_per_group, "Members of each group that send (0: all)")
      ->capture_default_str();
  app.add_option("--start-rate", o.start_rate, "First offered rate (saturate)")->capture_default_str();
  app.add_option("--rate-factor", o.rate_factor, "Rate multiplier between steps (saturate)")->capture_default_str();
  app.add_option("--max-steps", o.max_steps, "Most steps (saturate)")->capture_default_str();
  app.add_option("--step-duration", o.step_duration, "Seconds per step (saturate)")->capture_default_str();
  app.add_option("--p99-limit-ms", o.p99_limit_ms, "saturate stops when p99 exceeds this")->capture_default_str();
  app.add_option("--storm-mode", o.storm_mode,
                 "kill: kill -9 and restart the server; close: the bench drops every socket at once "
                 "(default: kill when the bench can restart the server, else close)")
      ->check(CLI::IsMember({"kill", "close"}));
  app.add_option("--backoff-base-ms", o.backoff_base_ms, "Reconnect backoff base (storm)")->capture_default_str();
  app.add_option("--backoff-max-ms", o.backoff_max_ms, "Reconnect backoff cap (storm)")->capture_default_str();
  app.add_option("--storm-timeout", o.storm_timeout, "Seconds allowed for everyone to be back (storm)")
      ->capture_default_str();
  app.add_option("--drain-timeout-ms", o.drain_timeout_ms, "Wait for outstanding acks and deliveries")
      ->capture_default_str();

  auto* barrier = app.add_option("--barrier-dir", o.barrier_dir,
                                 "idle with several bench processes: once connected, leave a file here and "
                                 "hold only when --barrier-count processes have");
  app.add_option("--barrier-count", o.barrier_count, "Bench processes meeting in --barrier-dir")
      ->needs(barrier)
      ->capture_default_str();
  app.add_option("--barrier-timeout", o.barrier_timeout_s, "Seconds to wait at the barrier")
      ->needs(barrier)
      ->capture_default_str();
  app.add_flag("--print-server-args", print_server_args,
               "Print the arguments --start-server gives the server (one per line; used by "
               "scripts/bench-cluster.sh for its nodes) and exit");

  app.add_option("--json", o.json_path, "Write every figure as JSON to this file");
  app.add_option("--plot", o.plot_path, "Write an SVG plot (saturate: load curve; else latency distribution)");
  app.add_flag("--fail-on-error", o.fail_on_error,
               "Exit 1 on any loss, duplicate, order violation, misrouted message or error");
  app.add_flag("--tolerate-resync-races", o.tolerate_resync_races,
               "Report, without failing, duplicates and order violations seen while a reconnected "
               "session's first sync runs (a known server race; see docs/benchmarks.md)");
  app.add_option("--perf-record", o.perf_out,
                 "Run `perf record -g` on the server during the measured window, into this file");
  CLI11_PARSE(app, argc, argv);
  if (print_server_args) {
    for (const auto& a : parley::bench::BenchServerArgs(o.durability)) std::cout << a << "\n";
    return 0;
  }
  if (o.scenario.empty()) {
    std::cerr << "parley-bench: --scenario is required\n";
    return 2;
  }
  if (o.server.empty() && o.start_server.empty()) {
    std::cerr << "parley-bench: give --server HOST:PORT or --start-server PATH\n";
    return 2;
  }
  return parley::bench::RunScenario(o);
}
