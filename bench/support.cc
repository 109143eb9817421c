#include "support.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

namespace parley::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------- HTTP

struct HttpClient::Impl {
  std::string host;
  uint16_t port;
  std::string source;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  bool Connect(std::string& error) {
    stream.emplace(ioc);
    beast::error_code ec;
    auto& sock = stream->socket();
    sock.open(tcp::v4(), ec);
    if (!ec && !source.empty()) sock.bind(tcp::endpoint(net::ip::make_address(source), 0), ec);
    if (!ec) {
      stream->expires_after(std::chrono::seconds(30));
      stream->connect(tcp::endpoint(net::ip::make_address(host), port), ec);
    }
    if (ec) {
      error = ec.message();
      stream.reset();
      return false;
    }
    sock.set_option(tcp::no_delay(true), ec);
    buffer.clear();
    return true;
  }
};

HttpClient::HttpClient(std::string host, uint16_t port, std::string source_addr) : impl_(new Impl) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->source = std::move(source_addr);
}

HttpClient::~HttpClient() = default;

HttpResponse HttpClient::Request(const std::string& method, const std::string& target,
                                 const std::string& body, const std::string& token) {
  HttpResponse out;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->stream && !impl_->Connect(out.error)) return out;
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, impl_->host + ":" + std::to_string(impl_->port));
    req.set(http::field::user_agent, "parley-bench");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    beast::error_code ec;
    impl_->stream->expires_after(std::chrono::seconds(60));
    http::write(*impl_->stream, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (!ec) http::read(*impl_->stream, impl_->buffer, parser, ec);
    if (ec) {
      // A keep-alive connection the server closed: reconnect once.
      out.error = ec.message();
      impl_->stream.reset();
      continue;
    }
    auto res = parser.release();
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    out.error.clear();
    if (!res.keep_alive()) impl_->stream.reset();
    return out;
  }
  return out;
}

bool WaitHealthy(const std::string& host, uint16_t port, int timeout_ms) {
  const int64_t deadline = NowNs() + int64_t{timeout_ms} * 1'000'000;
  while (NowNs() < deadline) {
    HttpClient c(host, port);
    if (c.Request("GET", "/healthz", "").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// ---------------------------------------------------------------- process

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Terminate(10'000);
}

bool ServerProcess::Start(const std::string& listen, int timeout_ms, std::string& error) {
  const int fd = ::open(launch_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "cannot open " + launch_.log_path + ": " + std::strerror(errno);
    return false;
  }
  const off_t log_start = ::lseek(fd, 0, SEEK_END);
  std::vector<std::string> argv_s;
  if (launch_.shell_cmd.empty()) {
    argv_s.push_back(launch_.binary);
    argv_s.push_back("--listen");
    argv_s.push_back(listen);
    for (const auto& a : launch_.args) argv_s.push_back(a);
  } else {
    argv_s = {"/bin/sh", "-c", "exec " + launch_.shell_cmd};
  }
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the bench
    if (::getppid() != parent) ::_exit(1);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fd);
  pid_ = pid;
  const int64_t deadline = NowNs() + int64_t{timeout_ms} * 1'000'000;
  if (!launch_.shell_cmd.empty()) {
    std::string host;
    uint16_t port = 0;
    if (!SplitHostPort(address_, host, port)) {
      error = "--server-cmd needs --server HOST:PORT";
      return false;
    }
    if (!WaitHealthy(host, port, timeout_ms)) {
      error = "server command did not become healthy";
      return false;
    }
    return true;
  }
  const std::string marker = "event=listening address=";
  while (NowNs() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error = "server exited during start (see " + launch_.log_path + ")";
      return false;
    }
    std::ifstream in(launch_.log_path);
    in.seekg(log_start);
    std::string line;
    while (std::getline(in, line)) {
      const size_t at = line.find(marker);
      if (at == std::string::npos) continue;
      std::string addr = line.substr(at + marker.size());
      addr = addr.substr(0, addr.find(' '));
      address_ = addr;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  error = "server did not log its listening address in time (see " + launch_.log_path + ")";
  return false;
}

void ServerProcess::Kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ServerProcess::Terminate(int timeout_ms) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const int64_t deadline = NowNs() + int64_t{timeout_ms} * 1'000'000;
  int status = 0;
  while (NowNs() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill9();
  return -1;
}

// ---------------------------------------------------------------- /proc

int64_t ReadRssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

namespace {
// utime+stime and comm of a /proc/.../stat line.
bool ParseStat(const std::string& path, std::string& comm, int64_t& ticks) {
  std::ifstream in(path);
  std::string s;
  if (!std::getline(in, s)) return false;
  const size_t open = s.find('('), close = s.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return false;
  comm = s.substr(open + 1, close - open - 1);
  std::istringstream rest(s.substr(close + 2));
  std::string field;
  // Fields after comm start at #3 (state); utime is #14, stime #15.
  int64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  ticks = utime + stime;
  return true;
}
}  // namespace

int64_t ReadCpuTicks(pid_t pid) {
  std::string comm;
  int64_t ticks = -1;
  if (!ParseStat("/proc/" + std::to_string(pid) + "/stat", comm, ticks)) return -1;
  return ticks;
}

std::map<std::string, int64_t> ReadThreadCpuTicks(pid_t pid) {
  std::map<std::string, int64_t> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string comm;
    int64_t ticks = 0;
    if (ParseStat(dir + "/" + e->d_name + "/stat", comm, ticks)) out[comm] += ticks;
  }
  ::closedir(d);
  return out;
}

int64_t ClockTicksPerSecond() { return ::sysconf(_SC_CLK_TCK); }

// ---------------------------------------------------------------- metrics

bool MetricsSnapshot::Parse(const std::string& text) {
  values_.clear();
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string::npos) continue;
    const std::string name = line.substr(0, name_end);
    size_t value_start = line.find(' ', line[name_end] == '{' ? line.find('}', name_end) : name_end);
    if (value_start == std::string::npos) continue;
    try {
      values_[name] += std::stod(line.substr(value_start + 1));
    } catch (...) {
    }
  }
  return !values_.empty();
}

double MetricsSnapshot::Get(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? 0 : it->second;
}

bool MetricsSnapshot::Has(const std::string& name) const { return values_.count(name) != 0; }

void MetricsSnapshot::Add(const MetricsSnapshot& other) {
  for (const auto& [name, v] : other.values_) values_[name] += v;
}

bool ScrapeMetrics(const std::string& host, uint16_t port, MetricsSnapshot& out) {
  HttpClient c(host, port);
  auto r = c.Request("GET", "/metrics", "");
  return r.status == 200 && out.Parse(r.body);
}

uint64_t RaiseFdLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

}  // namespace parley::bench
