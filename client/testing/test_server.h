// TestServer: runs the real parley-server binary for the client's integration
// tests, on a fresh temporary data dir, and can stop, kill -9 and restart it
// on the same data dir and the same port (so a client can reconnect to the
// address it knows). Also runs other programs (RunProgram) for CLI tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace parley::client::testing {

class TestServer {
 public:
  TestServer();
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  // Starts the server on 127.0.0.1:`port` (0: the previous port, or a free one)
  // and waits for its `event=listening` line.
  bool Start(uint16_t port = 0, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGTERM and wait; the exit code, or -1 if it had to be killed.
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void Kill9();
  bool running() const { return pid_ > 0; }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& dir() const { return dir_; }  // a temp dir for the test's own files too
  std::string log() const;
  // A port that was free a moment ago on 127.0.0.1.
  static uint16_t FreePort();

 private:
  void Drain(int fd);
  void Reap();

  std::string dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::thread drain_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string log_;
  bool eof_ = false;
};

struct ProgramResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out, err;
};
// Runs `argv` with `input` on stdin and extra environment entries ("K=V"),
// killing it after `timeout`.
ProgramResult RunProgram(const std::vector<std::string>& argv, const std::string& input = "",
                         const std::vector<std::string>& env = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace parley::client::testing
