#include "cluster/testing/redis_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "cluster/redis_client.h"

namespace parley::cluster::testing {

uint16_t FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

RedisProcess::RedisProcess() {
  char tmpl[] = "/tmp/parley-redis-XXXXXX";
  dir_ = mkdtemp(tmpl);
  port_ = FreeLoopbackPort();
}

RedisProcess::~RedisProcess() {
  Kill9();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

bool RedisProcess::Start() {
  if (running()) return true;
  std::vector<std::string> args = {"redis-server", "--port", std::to_string(port_),
                                   "--bind", "127.0.0.1", "--dir", dir_, "--save", "",
                                   "--appendonly", "no", "--daemonize", "no"};
  pid_ = fork();
  if (pid_ == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp("redis-server", argv.data());
    _exit(127);
  }
  RedisClient probe(RedisAddress::Parse(url()).value(), 200);
  for (int i = 0; i < 100; ++i) {
    auto reply = probe.Command({"PING"});
    if (reply.ok() && reply->str == "PONG") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void RedisProcess::Kill9() {
  if (!running()) return;
  kill(pid_, SIGCONT);
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void RedisProcess::Pause() {
  if (running()) kill(pid_, SIGSTOP);
}

void RedisProcess::Resume() {
  if (running()) kill(pid_, SIGCONT);
}

}  // namespace parley::cluster::testing
