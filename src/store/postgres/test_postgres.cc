#include "store/postgres/test_postgres.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "store/postgres/pg_connection.h"

namespace parley::store::pg {
namespace {

// PARLEY_PG_BIN, else the Debian 12 location.
std::string BinDir() {
  const char* env = getenv("PARLEY_PG_BIN");
  return env != nullptr ? env : "/usr/lib/postgresql/15/bin";
}

Result<uint16_t> FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Internal("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
            getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  if (!ok) return Internal("no free port");
  return ntohs(addr.sin_port);
}

// Forks `argv` as uid/gid (when root) with output into `log`; the child gets
// SIGINT (PostgreSQL's fast shutdown) when this thread's process dies.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log, uid_t uid, gid_t gid) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
  if (getuid() == 0 && (setgid(gid) != 0 || setuid(uid) != 0)) _exit(126);
  prctl(PR_SET_PDEATHSIG, SIGINT);  // after setuid, which clears it
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

}  // namespace

Result<TestPostgres*> TestPostgres::Shared() {
  static std::mutex mu;
  static std::unique_ptr<TestPostgres> shared;
  std::lock_guard lock(mu);
  if (!shared) {
    std::unique_ptr<TestPostgres> server(new TestPostgres());
    PARLEY_RETURN_IF_ERROR(server->Init());
    PARLEY_RETURN_IF_ERROR(server->Start());
    shared = std::move(server);
  }
  return shared.get();
}

Status TestPostgres::Init() {
  std::string pattern = (std::filesystem::temp_directory_path() / "parley_pg_XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return Internal("mkdtemp failed");
  dir_ = pattern;
  if (getuid() == 0) {
    passwd* pw = getpwnam("postgres");
    if (pw == nullptr) return Unavailable("running as root needs a `postgres` user (setup.sh)");
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
    if (chown(dir_.c_str(), uid_, gid_) != 0) return Internal("chown " + dir_ + " failed");
  }
  Result<uint16_t> port = FreePort();
  if (!port.ok()) return port.status();
  port_ = *port;
  pid_t pid = Spawn({BinDir() + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U", "parley",
                     "-E", "UTF8", "--locale=C", "--no-sync"},
                    dir_ + "/initdb.log", uid_, gid_);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    return Unavailable("initdb failed: " + Tail(dir_ + "/initdb.log"));
  }
  return Status::Ok();
}

Status TestPostgres::Start() {
  pid_ = Spawn({BinDir() + "/postgres", "-D", dir_ + "/data", "-k", dir_, "-p",
                std::to_string(port_), "-c", "listen_addresses=127.0.0.1", "-F", "-c",
                "shared_buffers=16MB", "-c", "max_connections=300"},
               dir_ + "/postgres.log", uid_, gid_);
  if (pid_ < 0) return Unavailable("fork failed");
  std::string url = Url("postgres");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (PQping(url.c_str()) != PQPING_OK) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Unavailable("postgres exited: " + Tail(dir_ + "/postgres.log"));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      Stop();
      return Unavailable("postgres did not start: " + Tail(dir_ + "/postgres.log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Ok();
}

void TestPostgres::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGINT);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

TestPostgres::~TestPostgres() {
  Stop();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string TestPostgres::Url(const std::string& database) const {
  return "postgres://parley@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

Result<std::string> TestPostgres::Database(const std::string& name) {
  ConnectOptions options;
  options.url = Url("postgres");
  options.statement_timeout_ms = 120'000;  // CREATE DATABASE on a loaded machine
  Result<std::unique_ptr<Connection>> conn = Connection::Open(options);
  if (!conn.ok()) return conn.status();
  Result<Rows> exists = (*conn)->Exec("SELECT 1 FROM pg_database WHERE datname = $1", {Text(name)});
  if (!exists.ok()) return exists.status();
  if (exists->empty()) {
    // FILE_COPY copies the template's files instead of writing them all to the
    // WAL (15's default): much faster on a loaded test machine.
    PARLEY_RETURN_IF_ERROR(
        (*conn)->Run("CREATE DATABASE \"" + name + "\" STRATEGY = FILE_COPY"));
  }
  return Url(name);
}

}  // namespace parley::store::pg
