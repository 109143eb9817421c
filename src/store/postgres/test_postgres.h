// A real PostgreSQL server for tests: initdb into a temporary directory and
// `postgres` on a free loopback port, started once per test binary. As root
// it runs as the `postgres` user (the server refuses root). The server gets
// SIGTERM-like shutdown if the test binary dies (PR_SET_PDEATHSIG), so no
// test leaves one running.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/status.h"

namespace parley::store::pg {

class TestPostgres {
 public:
  // The server of this process, started on first use.
  static Result<TestPostgres*> Shared();

  ~TestPostgres();  // Stop(), then removes the directory

  // A URL of database `name`, created (empty) unless it exists.
  Result<std::string> Database(const std::string& name);
  std::string Url(const std::string& database) const;

  // Fast shutdown (SIGINT) and wait; Start() again on the same data and port.
  void Stop();
  Status Start();
  bool running() const { return pid_ > 0; }

 private:
  TestPostgres() = default;
  Status Init();

  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  uid_t uid_ = 0;  // the user the server runs as
  gid_t gid_ = 0;
};

}  // namespace parley::store::pg
