// A thin layer over libpq: one connection with typed binary parameters and
// results, PostgreSQL errors as Status values, and a bounded pool that
// reconnects lazily. Only src/store/postgres includes libpq.
//
// Every parameter and result travels in binary format, so bytea bodies need
// no escaping and bigints arrive as 8 big-endian bytes.
#pragma once

#include <libpq-fe.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parley::store::pg {

// Ids are text keys; like the RocksDB keys they never hold a 0x00 byte
// (PostgreSQL text cannot).
inline bool ValidId(std::string_view id) {
  return !id.empty() && id.find('\0') == std::string_view::npos;
}

// One query parameter: its type oid and its binary value (or NULL).
struct Param {
  Oid type = 0;
  std::string value;
  bool null = false;
};
Param Text(std::string_view s);   // text (and bytea: the same bytes)
Param Bytes(std::string_view s);  // bytea
Param Int(int64_t v);             // int8
Param U64(uint64_t v);            // int8; ids and seqs stay below 2^63
Param Bool(bool v);

// The rows of one statement. Columns must be int8, int4, text or bytea.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}
  int size() const { return PQntuples(result_.get()); }
  bool empty() const { return size() == 0; }
  std::string_view Str(int row, int col) const;
  int64_t Int(int row, int col) const;
  uint64_t U64(int row, int col) const { return static_cast<uint64_t>(Int(row, col)); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

// One statement of a pipeline.
struct Statement {
  std::string sql;
  std::vector<Param> params;
};

struct ConnectOptions {
  std::string url;               // postgres://user@host:port/db
  int connect_timeout_s = 3;     // a dead host fails fast
  int statement_timeout_ms = 10'000;
  bool synchronous_commit = true;  // false: --durability os
};

class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(const ConnectOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Errors: a broken connection, a timeout or a server shutting down is
  // kUnavailable; a unique violation kConflict; anything else kInternal.
  Result<Rows> Exec(std::string_view sql, const std::vector<Param>& params = {});
  // Sends the statements in one round trip (libpq pipeline mode) and returns
  // their rows in order. They run in order; after the first error the rest
  // are skipped and that error is returned.
  Result<std::vector<Rows>> Pipeline(const std::vector<Statement>& statements);
  // Runs a statement without parameters (several separated by ';' allowed).
  Status Run(std::string_view sql);
  // False once the connection broke; the pool then drops it.
  bool healthy() const { return healthy_ && PQstatus(conn_) == CONNECTION_OK; }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  Status Failure(PGresult* result, std::string_view sql);
  bool Send(const Statement& statement);

  PGconn* conn_;
  bool healthy_ = true;
};

// A fixed number of connections opened on demand. Acquire blocks while all
// are leased; a broken connection is closed when returned, and the next
// Acquire opens a fresh one (so a restarted server is picked up).
class Pool {
 public:
  Pool(ConnectOptions options, size_t size);

  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    ~Lease();
    Connection* operator->() const { return conn_.get(); }
    Connection& operator*() const { return *conn_; }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  Result<Lease> Acquire();

 private:
  void Release(std::unique_ptr<Connection> conn);

  const ConnectOptions options_;
  const size_t size_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  size_t leased_ = 0;                              // guarded by mu_
};

// Runs `body` inside BEGIN ... COMMIT on `conn`; any error rolls back.
template <typename Body>
Status InTransaction(Connection& conn, Body body) {
  PARLEY_RETURN_IF_ERROR(conn.Run("BEGIN"));
  Status s = body();
  if (!s.ok()) {
    if (conn.healthy()) conn.Run("ROLLBACK").ok();
    return s;
  }
  return conn.Run("COMMIT");
}

}  // namespace parley::store::pg
