#include "client/testing/test_server.h"

#include "testing/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

namespace parley::client::testing {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

uint16_t TestServer::FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

namespace {

// Forks and execs `argv` with stdout/stderr on the given fds. Child: dies with us.
pid_t Spawn(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd,
            const std::vector<std::string>& env) {
  std::vector<std::string> args = argv;
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  std::vector<std::string> envs = env;
  std::vector<char*> cenv;
  for (auto& e : envs) cenv.push_back(e.data());  // first: they win over inherited ones
  for (char** e = environ; *e != nullptr; ++e) cenv.push_back(*e);
  cenv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(126);
  signal(SIGPIPE, SIG_DFL);
  dup2(in_fd, 0);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  execve(cargs[0], cargs.data(), cenv.data());
  _exit(127);
}

}  // namespace

TestServer::TestServer() {
  signal(SIGPIPE, SIG_IGN);
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/parley-client-it-XXXXXX";
  if (mkdtemp(templ.data()) != nullptr) dir_ = templ;
  std::filesystem::create_directories(dir_ + "/data");
}

TestServer::~TestServer() {
  // Graceful, so an instrumented server's leak check and exit status count (tests/testing).
  parley::testing::ExpectCleanExit(pid_ > 0 ? Stop() : 0, log());
  if (!dir_.empty() && std::getenv("PARLEY_IT_KEEP") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool TestServer::Start(uint16_t port, std::chrono::milliseconds timeout) {
  if (pid_ > 0 || dir_.empty()) return false;
  if (port == 0) port = port_ != 0 ? port_ : FreePort();
  port_ = port;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const char* binary = std::getenv("PARLEY_SERVER");  // override, e.g. another build
  std::vector<std::string> argv = {binary && *binary ? binary : PARLEY_SERVER_PATH,
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(port),
                                   "--data-dir",
                                   dir_ + "/data",
                                   "--argon2-opslimit",
                                   "1",
                                   "--argon2-memlimit-kib",
                                   "8",
                                   "--send-rate",
                                   "10000",
                                   "--send-burst",
                                   "10000",
                                   "--login-rate-per-min",
                                   "10000",
                                   "--register-rate-per-min",
                                   "10000",
                                   "--address-send-rate",
                                   "10000",
                                   "--address-send-burst",
                                   "10000",
                                   "--handshake-rate-per-address",  // every client is 127.0.0.1
                                   "0"};
  size_t start;
  {
    std::lock_guard lock(mu_);
    start = log_.size();
    eof_ = false;
  }
  pid_ = Spawn(argv, devnull, fds[1], fds[1], {});
  close(fds[1]);
  close(devnull);
  drain_ = std::thread([this, fd = fds[0]] { Drain(fd); });
  std::unique_lock lock(mu_);
  bool ok = cv_.wait_for(lock, timeout, [&] {
    return eof_ || log_.find("event=listening", start) != std::string::npos;
  });
  if (ok && !eof_) return true;
  lock.unlock();
  Kill9();
  return false;
}

int TestServer::Stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  auto deadline = Clock::now() + timeout;
  int status = 0;
  while (Clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      Reap();
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill9();
  return -1;
}

void TestServer::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  Reap();
}

void TestServer::Reap() {
  pid_ = -1;
  if (drain_.joinable()) drain_.join();
}

void TestServer::Drain(int fd) {
  char buf[4096];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mu_);
    if (n <= 0) {
      eof_ = true;
      cv_.notify_all();
      close(fd);
      return;
    }
    log_.append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
}

std::string TestServer::log() const {
  std::lock_guard lock(mu_);
  return log_;
}

ProgramResult RunProgram(const std::vector<std::string>& argv, const std::string& input,
                         const std::vector<std::string>& env, std::chrono::milliseconds timeout) {
  ProgramResult result;
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) return result;
  pid_t pid = Spawn(argv, in[0], out[1], err[1], env);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  (void)!write(in[1], input.data(), input.size());
  close(in[1]);
  auto deadline = Clock::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0 && Clock::now() < deadline) {
    if (poll(fds, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (open_fds > 0) kill(pid, SIGKILL);
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace parley::client::testing
