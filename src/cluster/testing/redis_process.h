// A real redis-server for tests: started on a free loopback port in a temp
// dir, without persistence (a restart loses everything, like a crashed Redis
// without AOF), stopped and removed on destruction.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace parley::cluster::testing {

class RedisProcess {
 public:
  RedisProcess();
  ~RedisProcess();
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  // Starts (or starts again, on the same port) and waits until it answers PING.
  bool Start();
  void Kill9();
  void Pause();   // SIGSTOP
  void Resume();  // SIGCONT

  bool running() const { return pid_ > 0; }
  uint16_t port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// A loopback TCP port that was free a moment ago.
uint16_t FreeLoopbackPort();

}  // namespace parley::cluster::testing
