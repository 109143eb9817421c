#include "testing/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace parley::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Finds "event=listening" in `log` at or after `from` and returns the port of
// the `address=HOST:PORT` on that line, or 0 if the complete line is absent.
uint16_t ParseListeningPort(const std::string& log, size_t from) {
  size_t at = log.find("event=listening", from);
  if (at == std::string::npos) return 0;
  size_t line_start = log.rfind('\n', at);
  line_start = line_start == std::string::npos ? 0 : line_start + 1;
  size_t line_end = log.find('\n', at);
  if (line_end == std::string::npos) return 0;  // wait for the whole line
  std::string line = log.substr(line_start, line_end - line_start);
  size_t addr = line.find("address=");
  if (addr == std::string::npos) return 0;
  size_t end = line.find_first_of(" \t\r", addr);
  std::string value = line.substr(addr + 8, end == std::string::npos ? std::string::npos : end - addr - 8);
  while (!value.empty() && (value.back() == '"' || value.back() == '\'')) value.pop_back();
  size_t colon = value.rfind(':');
  if (colon == std::string::npos) return 0;
  int port = std::atoi(value.c_str() + colon + 1);
  return port > 0 && port < 65536 ? static_cast<uint16_t>(port) : 0;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string SanitizerReportIn(std::string_view log) {
  // The first line of every ASan, LSan, UBSan and TSan report.
  constexpr std::string_view kMarkers[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                           "runtime error:", "WARNING: ThreadSanitizer"};
  size_t first = std::string_view::npos;
  for (std::string_view marker : kMarkers) first = std::min(first, log.find(marker));
  if (first == std::string_view::npos) return "";
  size_t line_start = log.rfind('\n', first);
  return std::string(log.substr(line_start == std::string_view::npos ? 0 : line_start + 1, 16384));
}

void ExpectCleanExit(int exit_code, std::string_view log) {
  if (exit_code != 0) {
    ADD_FAILURE() << "parley-server exited with " << exit_code << " when the test ended\n"
                  << log.substr(log.size() - std::min<size_t>(log.size(), 8192));
  }
  if (std::string report = SanitizerReportIn(log); !report.empty()) {
    ADD_FAILURE() << "parley-server printed a sanitizer report:\n" << report;
  }
}

std::string ServerProcess::BinaryPath() {
  if (const char* env = std::getenv("PARLEY_SERVER")) return env;
#ifdef PARLEY_SERVER_PATH
  return PARLEY_SERVER_PATH;
#else
  return "";
#endif
}

ServerProcess::ServerProcess(std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)) {
  // Writing to a socket the server closed must not kill the test process.
  signal(SIGPIPE, SIG_IGN);
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/parley-it-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    error_ = std::string("mkdtemp: ") + std::strerror(errno);
    return;
  }
  tmp_dir_ = templ;
  data_dir_ = tmp_dir_ + "/data";
  std::filesystem::create_directories(data_dir_);
  CreatePostgresDatabase();
}

// PARLEY_TEST_POSTGRES=postgres://user@host:port (scripts/test-postgres.sh):
// every server gets a fresh database there instead of the embedded store.
void ServerProcess::CreatePostgresDatabase() {
  const char* base = std::getenv("PARLEY_TEST_POSTGRES");
  if (base == nullptr || *base == '\0') return;
  std::string name = "it_" + std::filesystem::path(tmp_dir_).filename().string();
  for (char& c : name) c = (c == '-') ? '_' : static_cast<char>(std::tolower(c));
  std::string command = std::string("psql -X -q -v ON_ERROR_STOP=1 '") + base +
                        "/postgres' -c 'CREATE DATABASE " + name + "' >/dev/null";
  if (std::system(command.c_str()) != 0) {
    error_ = "cannot create database " + name + " at " + base;
    return;
  }
  postgres_database_ = name;
  postgres_url_ = std::string(base) + "/" + name;
}

ServerProcess::~ServerProcess() {
  // A graceful stop, not SIGKILL: LeakSanitizer checks for leaks at exit, and an instrumented
  // server reports any sanitizer error through its exit status (ASan/UBSan exit 1, TSan 66).
  ExpectCleanExit(pid_ > 0 ? Stop() : 0, Log());
  JoinDrain();
  if (!postgres_database_.empty()) {
    std::string command = std::string("psql -X -q '") + std::getenv("PARLEY_TEST_POSTGRES") +
                          "/postgres' -c 'DROP DATABASE IF EXISTS " + postgres_database_ +
                          " WITH (FORCE)' >/dev/null 2>&1";
    // On failure it is left behind: the test run's PostgreSQL goes at its end.
    [[maybe_unused]] int rc = std::system(command.c_str());
  }
  if (!tmp_dir_.empty() && std::getenv("PARLEY_IT_KEEP") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(tmp_dir_, ec);
  }
}

bool ServerProcess::Start(std::chrono::milliseconds timeout) {
  if (pid_ > 0) {
    error_ = "already running";
    return false;
  }
  if (tmp_dir_.empty()) return false;
  if (std::getenv("PARLEY_TEST_POSTGRES") != nullptr && postgres_url_.empty()) return false;
  std::string binary = BinaryPath();
  if (binary.empty() || access(binary.c_str(), X_OK) != 0) {
    error_ = "server binary not found: '" + binary + "' (set PARLEY_SERVER)";
    return false;
  }
  JoinDrain();

  std::string listen = "127.0.0.1:" + std::to_string(keep_port_ ? kept_port_ : 0);
  // Every test connects from 127.0.0.1: no per-address connection budget
  // (the tests of that limit set one in their extra args; the last flag wins).
  std::vector<std::string> args = {binary,        "--listen",           listen,
                                   "--data-dir",  data_dir_,            "--argon2-opslimit",
                                   "1",           "--argon2-memlimit-kib", "8",
                                   "--log-level", "info",               "--handshake-rate-per-address",
                                   "0"};
  if (!postgres_url_.empty()) args.insert(args.end(), {"--store", postgres_url_});
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    error_ = std::string("pipe2: ") + std::strerror(errno);
    return false;
  }
  {
    std::lock_guard lock(mu_);
    run_offset_ = log_.size();
    eof_ = false;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    error_ = std::string("fork: ") + std::strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  pid_ = pid;
  read_fd_ = fds[0];
  drain_ = std::thread([this, fd = fds[0]] { Drain(fd); });

  std::unique_lock lock(mu_);
  bool ok = cv_.wait_for(lock, timeout, [&] {
    return eof_ || ParseListeningPort(log_, run_offset_) != 0;
  });
  port_ = ParseListeningPort(log_, run_offset_);
  if (ok && port_ != 0) {
    if (keep_port_) kept_port_ = port_;
    return true;
  }
  error_ = eof_ ? "server exited before listening" : "timed out waiting for event=listening";
  lock.unlock();
  Kill9();
  return false;
}

bool ServerProcess::Restart(std::chrono::milliseconds timeout) {
  if (pid_ > 0) Stop();
  return Start(timeout);
}

int ServerProcess::Stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  Resume();  // a stopped process handles SIGTERM only once continued
  auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      Reap(status);
      return DecodeStatus(status);
    }
    if (r < 0 && errno != EINTR) {
      pid_ = -1;
      return -1;
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  error_ = "server did not exit within the SIGTERM timeout";
  Kill9();
  return -1;
}

void ServerProcess::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  Reap(status);
}

void ServerProcess::Pause() {
  if (pid_ > 0 && !paused_ && kill(pid_, SIGSTOP) == 0) paused_ = true;
}

void ServerProcess::Resume() {
  if (pid_ > 0 && paused_) kill(pid_, SIGCONT);
  paused_ = false;
}

void ServerProcess::Reap(int /*status*/) {
  pid_ = -1;
  paused_ = false;
  port_ = 0;
  JoinDrain();
}

void ServerProcess::JoinDrain() {
  if (drain_.joinable()) drain_.join();
  if (read_fd_ >= 0) {
    close(read_fd_);
    read_fd_ = -1;
  }
}

void ServerProcess::Drain(int fd) {
  char buf[8192];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mu_);
    if (n <= 0) {
      eof_ = true;
      cv_.notify_all();
      return;
    }
    log_.append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
}

std::string ServerProcess::Log() const {
  std::lock_guard lock(mu_);
  return log_;
}

std::string ServerProcess::LogTail(size_t max_bytes) const {
  std::lock_guard lock(mu_);
  return log_.size() <= max_bytes ? log_ : log_.substr(log_.size() - max_bytes);
}

bool ServerProcess::WaitForLog(std::string_view needle, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    return log_.find(needle, run_offset_) != std::string::npos;
  });
}

}  // namespace parley::testing
