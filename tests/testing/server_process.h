// ServerProcess: runs the real parley-server binary as a child process for
// black-box tests. Binds 127.0.0.1:0 (after KeepPort(), later starts reuse the
// first port) on a fresh data dir, learns the port from
// the `event=listening address=HOST:PORT` log line, and keeps draining the
// child's stdout/stderr into an in-memory log so the pipe never fills. When it goes out
// of scope it stops the server gracefully and fails the running test if the server exited
// non-zero or printed a sanitizer report (scripts/test.sh runs an ASan/UBSan build).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace parley::testing {

// The first sanitizer report (ASan, LSan, UBSan, TSan) in a server's output and what follows
// it; empty if there is none.
std::string SanitizerReportIn(std::string_view log);
// Fails the running test if a server that the test is done with exited with a non-zero
// `exit_code` or printed a sanitizer report anywhere in `log` (restarts and SIGKILLs included).
void ExpectCleanExit(int exit_code, std::string_view log);

class ServerProcess {
 public:
  // `extra_args` are appended after the standard test flags on every start.
  explicit ServerProcess(std::vector<std::string> extra_args = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the server and waits (up to `timeout`) for the listening line.
  // Returns false on failure; error() and Log() tell why.
  bool Start(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Stops a running server (SIGTERM) if needed, then starts it again on the
  // same data dir with the same args. The port may change unless KeepPort().
  bool Restart(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Every later Start listens on the port of the first one, so clients can
  // reconnect to the same address after a crash (fault-injection tests).
  void KeepPort() { keep_port_ = true; }
  // Runs on `dir` instead of its own data dir (cluster nodes share their media).
  void UseDataDir(std::string dir) { data_dir_ = std::move(dir); }
  // SIGTERM, then waits for exit. Returns the exit code if it exited, 128+N
  // if killed by signal N, -1 if it did not exit in time (it is then killed).
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // SIGKILL and reap.
  void Kill9();
  // SIGSTOP / SIGCONT: the process freezes with its sockets open. Stop() and
  // Kill9() work on a paused server too.
  void Pause();
  void Resume();

  bool running() const { return pid_ > 0; }
  bool paused() const { return paused_; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& error() const { return error_; }
  static std::string BinaryPath();

  // Everything the server printed so far, across restarts.
  std::string Log() const;
  // The last `max_bytes` of Log().
  std::string LogTail(size_t max_bytes = 8192) const;
  // Waits until the log (since the current start) contains `needle`.
  bool WaitForLog(std::string_view needle, std::chrono::milliseconds timeout) const;

 private:
  void CreatePostgresDatabase();
  void Drain(int fd);
  void Reap(int status);
  void JoinDrain();

  std::vector<std::string> extra_args_;
  std::string tmp_dir_;
  std::string data_dir_;
  std::string postgres_database_;
  std::string postgres_url_;  // set: the server runs on this PostgreSQL database
  std::string error_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  uint16_t kept_port_ = 0;  // with keep_port_: the port every start listens on
  bool keep_port_ = false;
  bool paused_ = false;
  int read_fd_ = -1;
  std::thread drain_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string log_;        // guarded by mu_
  size_t run_offset_ = 0;  // guarded by mu_: where the current run's output starts
  bool eof_ = false;       // guarded by mu_
};

}  // namespace parley::testing
