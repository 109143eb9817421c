// Helpers shared by the integration tests: JSON accessors, unique user names,
// register+login, authenticated WebSocket sessions, send-and-ack, history
// paging, and a gtest fixture that runs one server per test.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/testing/redis_process.h"
#include "testing/http_client.h"
#include "testing/server_process.h"
#include "testing/ws_client.h"

namespace parley::testing {

namespace json = boost::json;

inline constexpr std::string_view kPassword = "correct horse battery";

// --- JSON accessors (never throw; a missing/mistyped field gives a default) ---
std::string Str(const json::object& o, std::string_view key);
// Integer field (int64 or uint64 in range); nullopt if absent or not integral.
std::optional<int64_t> IntOpt(const json::object& o, std::string_view key);
int64_t Int(const json::object& o, std::string_view key);  // -1 if absent
std::string Op(const json::object& o);
bool IsDecimalString(const json::value* v);
json::object ObjectAt(const json::object& o, std::string_view key);
json::array ArrayAt(const json::object& o, std::string_view key);
std::string Dump(const json::value& v);
int64_t NowMs();

// A user id unique within the test run: prefix (≤ 12 chars) + "_" + counter + random.
std::string UniqueUser(std::string_view prefix);
// A client_msg_id unique within the test run.
std::string UniqueCmid(std::string_view prefix = "c");

// POST /v1/users then POST /v1/sessions; returns the token, "" (and a gtest
// failure) if either step fails.
std::string RegisterAndLogin(HttpClient& http, std::string_view user,
                             std::string_view password = kPassword);
// POST /v1/sessions only; returns the token or "" (no failure recorded).
std::string Login(HttpClient& http, std::string_view user, std::string_view password = kPassword);

// Connects to /v1/ws with a header token and waits for `ready` (stored in
// *ready if given). Records a failure and returns a client that is not open
// if that fails.
std::unique_ptr<WsClient> ConnectReady(uint16_t port, std::string_view token,
                                       json::object* ready = nullptr);

// WsOptions with `auth` and `token`, the rest default.
WsOptions WsWith(WsAuth auth, std::string_view token = {});

// A `send` frame for a 1:1 message.
json::object SendFrame(std::string_view to, std::string_view content, std::string_view cmid);

// Sends a 1:1 message and waits for its ack (or an error frame echoing the
// same client_msg_id / id). Other frames are skipped (appended to `skipped`).
std::optional<json::object> SendAndAck(WsClient& ws, std::string_view to, std::string_view content,
                                       std::string_view cmid,
                                       std::vector<json::object>* skipped = nullptr);

// Sends `n` 1:1 messages (contents "<prefix>-<i>") pipelined, then returns
// their acks in send order; records a failure and returns what it has if an
// error or timeout happens.
std::vector<json::object> SendBatch(WsClient& ws, std::string_view to, int n,
                                    std::string_view prefix);

// A sync cursor (string or number) as a query-parameter value.
std::string CursorParam(const json::value* cursor);

// Sends {"op":"ping","id":...} and waits for the pong: "the connection still works".
bool PingPong(WsClient& ws, std::chrono::milliseconds timeout = 5s);

// Reads the whole history of a conversation over HTTP (after_seq paging,
// limit 200). Records a failure on an unexpected response.
std::vector<json::object> FetchAllHistory(HttpClient& http, std::string_view token,
                                          std::string_view conversation_id);

// Items of `list` with op == "message".
std::vector<json::object> MessagesOnly(const std::vector<json::object>& list);
std::vector<json::object> ToObjects(const json::array& a);

// --- groups, receipts, sync and metrics (used by several test families) ---

// A `send` frame addressed by conversation id (groups, channels, known 1:1).
json::object ConvSendFrame(std::string_view conversation_id, std::string_view content,
                           std::string_view cmid);
// Sends to a conversation by id and waits for its ack or the error frame
// echoing it; other frames are skipped (appended to `skipped`).
std::optional<json::object> SendToConversation(WsClient& ws, std::string_view conversation_id,
                                               std::string_view content, std::string_view cmid,
                                               std::vector<json::object>* skipped = nullptr);
// POST /v1/groups; returns the conversation id, or "" (and a gtest failure)
// unless the answer is 201.
std::string CreateGroup(HttpClient& http, std::string_view token, std::string_view name,
                        const std::vector<std::string>& members, std::string_view kind = "group");
// Sum of the samples of metric `name` (any labels) in GET /metrics; nullopt
// if the scrape failed or no sample has that exact name.
std::optional<double> ScrapeMetric(HttpClient& http, std::string_view name);
// Follows GET /v1/sync pages (timeout=0) from `cursor` ("" = from the start;
// raw, not URL-encoded) until `more` is false. Returns every event and stores
// the final cursor (raw) in *next_cursor if given.
std::vector<json::object> HttpSyncAll(HttpClient& http, std::string_view token,
                                      std::string_view cursor = {},
                                      std::string* next_cursor = nullptr);
// A WebSocket `sync` from `cursor` (null = from the start) following `more`
// pages: every frame received before the last `synced` (live frames that
// arrive meanwhile included), and that `synced` frame in *synced if given.
std::vector<json::object> WsSyncAll(WsClient& ws, const json::value* cursor,
                                    json::object* synced = nullptr);
// Items of `list` whose conversation_id is `conversation_id`.
std::vector<json::object> InConversation(const std::vector<json::object>& list,
                                         std::string_view conversation_id);
// The entry of GET /v1/conversations for `conversation_id`, nullopt if absent
// (records a failure if the request fails).
std::optional<json::object> FindConversation(HttpClient& http, std::string_view token,
                                             std::string_view conversation_id);

// One server per test. Override ExtraArgs() to pass flags.
class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  virtual std::vector<std::string> ExtraArgs() { return {}; }

  // The port to connect a client to. In cluster mode (PARLEY_TEST_CLUSTER=N:
  // N nodes on one PostgreSQL database and one redis-server) each call names
  // the next node, so a test's clients spread over the nodes.
  uint16_t port() const;
  bool clustered() const { return !nodes_.empty(); }
  // Cluster mode when > 1: from PARLEY_TEST_CLUSTER unless a fixture says.
  virtual int ClusterNodes() const;
  // Metric `name` summed over every node (ScrapeMetric of each); nullopt if
  // a scrape failed or no node has it.
  std::optional<double> MetricOnAllNodes(std::string_view name);
  // Node i (0-based; node 0 is server_).
  ServerProcess& Node(size_t i) { return i == 0 ? *server_ : *nodes_.at(i - 1); }
  HttpClient& http() { return *http_; }
  // Restarts the server (after Stop/Kill9 or while running) and re-points http().
  bool RestartServer();
  // A registered, logged-in user.
  struct User {
    std::string id;
    std::string token;
  };
  User NewUser(std::string_view prefix);

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> http_;
  // Set when the environment says PARLEY_TEST_PRESENCE=redis: the server then
  // keeps presence in this real redis-server (ctest runs such suites twice).
  std::unique_ptr<cluster::testing::RedisProcess> redis_;
  // Cluster mode: the nodes after the first (server_ is node 1 and serves http()).
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
  mutable size_t next_node_ = 0;
  std::string cluster_store_;  // cluster mode: the nodes' PostgreSQL URL

 private:
  void StartCluster(std::vector<std::string> args, int nodes);
};

}  // namespace parley::testing
