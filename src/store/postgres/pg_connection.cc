#include "store/postgres/pg_connection.h"

#include <cstring>
#include <utility>

#include "store/records.h"

namespace parley::store::pg {
namespace {

constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;

// SQLSTATEs after which the statement may succeed on another try or
// connection: connection exceptions (08), operator intervention (57: a
// server shutting down, a cancelled statement), insufficient resources (53),
// serialization failures and deadlocks (40).
bool Transient(std::string_view sqlstate) {
  return sqlstate.starts_with("08") || sqlstate.starts_with("57") ||
         sqlstate.starts_with("53") || sqlstate.starts_with("40");
}

}  // namespace

Param Text(std::string_view s) { return {kTextOid, std::string(s)}; }
Param Bytes(std::string_view s) { return {kByteaOid, std::string(s)}; }
Param Int(int64_t v) { return {kInt8Oid, EncodeBe64(static_cast<uint64_t>(v))}; }
Param U64(uint64_t v) { return {kInt8Oid, EncodeBe64(v)}; }
Param Bool(bool v) { return {kBoolOid, std::string(1, v ? '\x01' : '\x00')}; }

std::string_view Rows::Str(int row, int col) const {
  return {PQgetvalue(result_.get(), row, col),
          static_cast<size_t>(PQgetlength(result_.get(), row, col))};
}

int64_t Rows::Int(int row, int col) const {
  std::string_view bytes = Str(row, col);
  uint64_t v = 0;
  for (unsigned char c : bytes) v = (v << 8) | c;
  if (bytes.size() == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

Result<std::unique_ptr<Connection>> Connection::Open(const ConnectOptions& options) {
  std::string timeout = std::to_string(options.connect_timeout_s);
  std::string server_options = "-c statement_timeout=" +
                               std::to_string(options.statement_timeout_ms) +
                               " -c lock_timeout=" + std::to_string(options.statement_timeout_ms) +
                               " -c client_min_messages=warning";
  if (!options.synchronous_commit) server_options += " -c synchronous_commit=off";
  // A peer that stops answering (not just closing) is noticed by TCP.
  std::string user_timeout = std::to_string(options.statement_timeout_ms);
  const char* keys[] = {"dbname",     "connect_timeout", "options",           "keepalives",
                        "keepalives_idle", "tcp_user_timeout", "application_name", nullptr};
  const char* values[] = {options.url.c_str(), timeout.c_str(), server_options.c_str(), "1",
                          "5",                 user_timeout.c_str(), "parley-server",   nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return Unavailable("postgres: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string error = PQerrorMessage(conn);
    PQfinish(conn);
    while (!error.empty() && error.back() == '\n') error.pop_back();
    return Unavailable("postgres: cannot connect: " + error);
  }
  return std::unique_ptr<Connection>(new Connection(conn));
}

Connection::~Connection() { PQfinish(conn_); }

Status Connection::Failure(PGresult* result, std::string_view sql) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state ? state : "";
  std::string message = result ? PQresultErrorMessage(result) : PQerrorMessage(conn_);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (result) PQclear(result);
  if (PQstatus(conn_) != CONNECTION_OK || sqlstate.empty() || Transient(sqlstate)) {
    // The session may be in any state now: the pool opens a fresh one.
    healthy_ = false;
    return Unavailable("postgres: " + message);
  }
  if (sqlstate == "23505") return Conflict("postgres: " + message);
  return Internal("postgres: " + message + " (SQLSTATE " + sqlstate + ") in: " +
                  std::string(sql.substr(0, 80)));
}

Result<Rows> Connection::Exec(std::string_view sql, const std::vector<Param>& params) {
  Result<std::vector<Rows>> rows = Pipeline({{std::string(sql), params}});
  if (!rows.ok()) return rows.status();
  return std::move(rows->front());
}

bool Connection::Send(const Statement& statement) {
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  for (const Param& p : statement.params) {
    types.push_back(p.type);
    values.push_back(p.null ? nullptr : p.value.data());
    lengths.push_back(static_cast<int>(p.value.size()));
    formats.push_back(1);
  }
  return PQsendQueryParams(conn_, statement.sql.c_str(), static_cast<int>(values.size()),
                           types.data(), values.data(), lengths.data(), formats.data(),
                           /*resultFormat=*/1) == 1;
}

Result<std::vector<Rows>> Connection::Pipeline(const std::vector<Statement>& statements) {
  if (!healthy()) {
    healthy_ = false;
    return Unavailable("postgres: connection lost");
  }
  if (PQenterPipelineMode(conn_) != 1) return Failure(nullptr, "pipeline");
  bool sent = true;
  for (const Statement& statement : statements) sent = sent && Send(statement);
  if (!sent || PQpipelineSync(conn_) != 1) {
    healthy_ = false;  // a half-sent pipeline: the session is unusable
    return Failure(nullptr, "pipeline");
  }
  std::vector<Rows> out;
  Status error = Status::Ok();
  // One result (then a null) per statement, then the sync point.
  for (const Statement& statement : statements) {
    PGresult* result = PQgetResult(conn_);
    if (result == nullptr) {
      healthy_ = false;
      return Failure(nullptr, statement.sql);
    }
    ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      out.emplace_back(result);
    } else if (status == PGRES_PIPELINE_ABORTED) {
      PQclear(result);
    } else if (error.ok()) {
      error = Failure(result, statement.sql);
    } else {
      PQclear(result);
    }
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
    if (!healthy_) return error;
  }
  PGresult* sync = PQgetResult(conn_);
  if (sync == nullptr || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
    if (sync != nullptr) PQclear(sync);
    healthy_ = false;
    return error.ok() ? Failure(nullptr, "pipeline sync") : error;
  }
  PQclear(sync);
  if (PQexitPipelineMode(conn_) != 1) healthy_ = false;
  if (!error.ok()) return error;
  return out;
}

Status Connection::Run(std::string_view sql) {
  if (!healthy()) {
    healthy_ = false;
    return Unavailable("postgres: connection lost");
  }
  std::string statement(sql);
  PGresult* result = PQexec(conn_, statement.c_str());
  ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Failure(result, sql);
  PQclear(result);
  return Status::Ok();
}

Pool::Pool(ConnectOptions options, size_t size) : options_(std::move(options)), size_(size) {}

Pool::Lease::~Lease() {
  if (conn_) pool_->Release(std::move(conn_));
}

Result<Pool::Lease> Pool::Acquire() {
  {
    std::unique_lock lock(mu_);
    freed_.wait(lock, [this] { return leased_ < size_; });
    ++leased_;
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
  }
  Result<std::unique_ptr<Connection>> conn = Connection::Open(options_);
  if (!conn.ok()) {
    std::lock_guard lock(mu_);
    --leased_;
    freed_.notify_one();
    return conn.status();
  }
  return Lease(this, std::move(*conn));
}

void Pool::Release(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  --leased_;
  if (conn->healthy()) idle_.push_back(std::move(conn));
  freed_.notify_one();
}

}  // namespace parley::store::pg
