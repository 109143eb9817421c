#include "testing/helpers.h"

#include "store/postgres/test_postgres.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>

namespace parley::testing {

std::string Str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<int64_t> IntOpt(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->as_uint64());
  }
  return std::nullopt;
}

int64_t Int(const json::object& o, std::string_view key) { return IntOpt(o, key).value_or(-1); }

std::string Op(const json::object& o) { return Str(o, "op"); }

bool IsDecimalString(const json::value* v) {
  if (!v || !v->is_string() || v->as_string().empty()) return false;
  for (char c : v->as_string()) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

json::object ObjectAt(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_object() ? v->as_object() : json::object();
}

json::array ArrayAt(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_array() ? v->as_array() : json::array();
}

std::string Dump(const json::value& v) {
  std::string s = json::serialize(v);
  if (s.size() > 1500) {
    s.resize(1500);
    s += "...";
  }
  return s;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
std::atomic<int> g_counter{0};

std::string RandomHex(int n) {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(getpid()));
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(kHex[rng() % 16]);
  return s;
}
}  // namespace

std::string UniqueUser(std::string_view prefix) {
  std::string p(prefix.substr(0, 12));
  return p + "_" + std::to_string(g_counter++) + RandomHex(5);
}

std::string UniqueCmid(std::string_view prefix) {
  return std::string(prefix) + "-" + std::to_string(g_counter++) + "-" + RandomHex(8);
}

std::string Login(HttpClient& http, std::string_view user, std::string_view password) {
  auto res = http.Post("/v1/sessions", json::object{{"user_id", user}, {"password", password}});
  if (res.status != 200) return "";
  return Str(res.object(), "token");
}

std::string RegisterAndLogin(HttpClient& http, std::string_view user, std::string_view password) {
  auto reg = http.Post("/v1/users", json::object{{"user_id", user}, {"password", password}});
  if (reg.status != 201) {
    ADD_FAILURE() << "register " << user << ": " << reg.Describe();
    return "";
  }
  std::string token = Login(http, user, password);
  if (token.empty()) ADD_FAILURE() << "login " << user << " failed";
  return token;
}

WsOptions WsWith(WsAuth auth, std::string_view token) {
  WsOptions opt;
  opt.auth = auth;
  opt.token = std::string(token);
  return opt;
}

std::unique_ptr<WsClient> ConnectReady(uint16_t port, std::string_view token, json::object* ready) {
  WsOptions opt;
  opt.auth = WsAuth::kHeader;
  opt.token = std::string(token);
  auto ws = WsClient::Connect(port, opt);
  if (!ws->connected()) {
    ADD_FAILURE() << "ws connect: status " << ws->handshake_status() << " " << ws->error();
    return ws;
  }
  auto frame = ws->ReadFrame(5s);
  if (!frame || Op(*frame) != "ready") {
    ADD_FAILURE() << "expected ready, got " << (frame ? Dump(*frame) : "nothing: " + ws->error());
    return ws;
  }
  if (ready) *ready = *frame;
  return ws;
}

json::object SendFrame(std::string_view to, std::string_view content, std::string_view cmid) {
  return json::object{{"op", "send"},
                      {"to", to},
                      {"content", content},
                      {"type", "text"},
                      {"client_msg_id", cmid}};
}

std::optional<json::object> SendAndAck(WsClient& ws, std::string_view to, std::string_view content,
                                       std::string_view cmid, std::vector<json::object>* skipped) {
  json::object frame = SendFrame(to, content, cmid);
  std::string id = "send-" + std::string(cmid);
  frame["id"] = id;
  if (!ws.SendJson(frame)) return std::nullopt;
  return ws.ReadUntil(
      [&](const json::object& f) {
        std::string op = Op(f);
        if (op == "ack") return Str(f, "client_msg_id") == cmid;
        if (op == "error") return Str(f, "id") == id;
        return false;
      },
      10s, skipped);
}

std::vector<json::object> SendBatch(WsClient& ws, std::string_view to, int n,
                                    std::string_view prefix) {
  std::vector<std::string> cmids;
  std::map<std::string, size_t> index;
  for (int i = 0; i < n; ++i) {
    cmids.push_back(UniqueCmid(prefix));
    index[cmids.back()] = cmids.size() - 1;
    if (!ws.SendJson(SendFrame(to, std::string(prefix) + "-" + std::to_string(i), cmids.back()))) {
      ADD_FAILURE() << "send " << i << " failed: " << ws.error();
      return {};
    }
  }
  std::vector<json::object> acks(cmids.size());
  size_t got = 0;
  while (got < cmids.size()) {
    auto f = ws.ReadUntil([](const json::object& f) { return Op(f) == "ack" || Op(f) == "error"; }, 20s);
    if (!f || Op(*f) != "ack") {
      ADD_FAILURE() << "after " << got << " acks: " << (f ? Dump(*f) : "timeout " + ws.error());
      break;
    }
    auto it = index.find(Str(*f, "client_msg_id"));
    if (it == index.end() || !acks[it->second].empty()) {
      ADD_FAILURE() << "unexpected ack " << Dump(*f);
      continue;
    }
    acks[it->second] = *f;
    ++got;
  }
  if (got < cmids.size()) acks.clear();
  return acks;
}

std::string CursorParam(const json::value* cursor) {
  if (!cursor) return "";
  if (cursor->is_string()) return UrlEncode(cursor->as_string());
  return UrlEncode(json::serialize(*cursor));
}

bool PingPong(WsClient& ws, std::chrono::milliseconds timeout) {
  if (!ws.SendJson(json::object{{"op", "ping"}, {"id", "probe"}})) return false;
  return ws.ReadOp("pong", timeout).has_value();
}

std::vector<json::object> ToObjects(const json::array& a) {
  std::vector<json::object> out;
  for (auto const& v : a) {
    if (v.is_object()) out.push_back(v.as_object());
  }
  return out;
}

std::vector<json::object> FetchAllHistory(HttpClient& http, std::string_view token,
                                          std::string_view conversation_id) {
  std::vector<json::object> out;
  int64_t after = 0;
  for (int page = 0; page < 1000; ++page) {
    auto res = http.Get("/v1/conversations/" + std::string(conversation_id) +
                            "/messages?after_seq=" + std::to_string(after) + "&limit=200",
                        token);
    if (res.status != 200) {
      ADD_FAILURE() << "history page: " << res.Describe();
      return out;
    }
    auto items = ToObjects(ArrayAt(res.object(), "messages"));
    if (items.empty()) return out;
    for (auto& item : items) {
      int64_t seq = Int(item, "seq");
      if (seq <= after) {
        ADD_FAILURE() << "history with after_seq=" << after << " returned seq " << seq;
        return out;
      }
      after = seq;
      out.push_back(std::move(item));
    }
  }
  return out;
}

std::vector<json::object> MessagesOnly(const std::vector<json::object>& list) {
  std::vector<json::object> out;
  for (auto const& o : list) {
    if (Op(o) == "message") out.push_back(o);
  }
  return out;
}

json::object ConvSendFrame(std::string_view conversation_id, std::string_view content,
                           std::string_view cmid) {
  return json::object{{"op", "send"},
                      {"conversation_id", conversation_id},
                      {"content", content},
                      {"type", "text"},
                      {"client_msg_id", cmid}};
}

std::optional<json::object> SendToConversation(WsClient& ws, std::string_view conversation_id,
                                               std::string_view content, std::string_view cmid,
                                               std::vector<json::object>* skipped) {
  json::object frame = ConvSendFrame(conversation_id, content, cmid);
  std::string id = "csend-" + std::string(cmid);
  frame["id"] = id;
  if (!ws.SendJson(frame)) return std::nullopt;
  return ws.ReadUntil(
      [&](const json::object& f) {
        std::string op = Op(f);
        if (op == "ack") return Str(f, "client_msg_id") == cmid;
        if (op == "error") return Str(f, "id") == id;
        return false;
      },
      10s, skipped);
}

std::string CreateGroup(HttpClient& http, std::string_view token, std::string_view name,
                        const std::vector<std::string>& members, std::string_view kind) {
  json::array list;
  for (auto& m : members) list.emplace_back(m);
  auto res = http.Post("/v1/groups", json::object{{"name", name}, {"members", list}, {"kind", kind}},
                       token);
  if (res.status != 201) {
    ADD_FAILURE() << "create " << kind << " '" << name << "': " << res.Describe();
    return "";
  }
  return Str(res.object(), "conversation_id");
}

std::optional<double> ScrapeMetric(HttpClient& http, std::string_view name) {
  auto res = http.Get("/metrics");
  if (res.status != 200) return std::nullopt;
  std::optional<double> sum;
  size_t pos = 0;
  while (pos < res.body.size()) {
    size_t end = res.body.find('\n', pos);
    if (end == std::string::npos) end = res.body.size();
    std::string_view line(res.body.data() + pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#' || line.substr(0, name.size()) != name) continue;
    char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != ' ' && next != '{') continue;
    size_t close = line.find('}');
    size_t value_at = line.find(' ', close == std::string_view::npos ? name.size() : close);
    if (value_at == std::string_view::npos) continue;
    sum = sum.value_or(0) + std::atof(std::string(line.substr(value_at + 1)).c_str());
  }
  return sum;
}

std::vector<json::object> HttpSyncAll(HttpClient& http, std::string_view token,
                                      std::string_view cursor, std::string* next_cursor) {
  std::vector<json::object> out;
  std::string at(cursor);
  for (int page = 0; page < 1000; ++page) {
    std::string target = "/v1/sync?timeout=0";
    if (!at.empty()) target += "&cursor=" + UrlEncode(at);
    auto res = http.Get(target, token);
    if (res.status != 200) {
      ADD_FAILURE() << "sync: " << res.Describe();
      break;
    }
    auto body = res.object();
    for (auto& e : ToObjects(ArrayAt(body, "events"))) out.push_back(std::move(e));
    if (auto* c = body.if_contains("cursor")) {
      at = c->is_string() ? std::string(c->as_string()) : json::serialize(*c);
    }
    auto* more = body.if_contains("more");
    if (!more || !more->is_bool() || !more->as_bool()) break;
  }
  if (next_cursor) *next_cursor = at;
  return out;
}

std::vector<json::object> WsSyncAll(WsClient& ws, const json::value* cursor,
                                    json::object* synced_out) {
  std::vector<json::object> out;
  json::value at = cursor ? *cursor : json::value(nullptr);
  for (int page = 0; page < 1000; ++page) {
    std::string id = "sync-" + std::to_string(page) + "-" + UniqueCmid("y");
    json::object frame{{"op", "sync"}, {"id", id}};
    if (!at.is_null()) frame["cursor"] = at;
    if (!ws.SendJson(frame)) {
      ADD_FAILURE() << "sync send failed: " << ws.error();
      break;
    }
    auto synced = ws.ReadUntil(
        [&](const json::object& f) {
          return (Op(f) == "synced" || Op(f) == "error") && Str(f, "id") == id;
        },
        15s, &out);
    if (!synced || Op(*synced) != "synced") {
      ADD_FAILURE() << "no synced: " << (synced ? Dump(*synced) : "timeout " + ws.error());
      break;
    }
    if (synced_out) *synced_out = *synced;
    if (auto* c = synced->if_contains("cursor")) at = *c;
    auto* more = synced->if_contains("more");
    if (!more || !more->is_bool() || !more->as_bool()) break;
  }
  return out;
}

std::vector<json::object> InConversation(const std::vector<json::object>& list,
                                         std::string_view conversation_id) {
  std::vector<json::object> out;
  for (auto const& o : list) {
    if (Str(o, "conversation_id") == conversation_id) out.push_back(o);
  }
  return out;
}

std::optional<json::object> FindConversation(HttpClient& http, std::string_view token,
                                             std::string_view conversation_id) {
  auto res = http.Get("/v1/conversations", token);
  if (res.status != 200) {
    ADD_FAILURE() << "GET /v1/conversations: " << res.Describe();
    return std::nullopt;
  }
  for (auto& c : ToObjects(ArrayAt(res.object(), "conversations"))) {
    if (Str(c, "conversation_id") == conversation_id) return c;
  }
  return std::nullopt;
}

void ServerTest::SetUp() {
  // Tests register, log in and send as many users from one address; the
  // per-address limits have their own tests, which set these flags themselves.
  std::vector<std::string> args = ExtraArgs();
  for (std::string_view flag : {"--login-rate-per-min", "--register-rate-per-min",
                                "--address-send-rate", "--address-send-burst",
                                "--upload-rate-per-min", "--address-upload-rate-per-min"}) {
    if (std::find(args.begin(), args.end(), flag) != args.end()) continue;
    args.emplace_back(flag);
    args.emplace_back("1000000");
  }
  if (int n = ClusterNodes(); n > 1) return StartCluster(std::move(args), n);
  if (const char* mode = std::getenv("PARLEY_TEST_PRESENCE"); mode && std::string(mode) == "redis") {
    redis_ = std::make_unique<cluster::testing::RedisProcess>();
    ASSERT_TRUE(redis_->Start()) << "redis-server did not start";
    args.insert(args.end(), {"--redis", redis_->url()});
  }
  server_ = std::make_unique<ServerProcess>(args);
  ASSERT_TRUE(server_->Start()) << server_->error() << "\n--- server log ---\n"
                                << server_->LogTail();
  http_ = std::make_unique<HttpClient>(server_->port());
}

// N nodes sharing a fresh PostgreSQL database (the test binary's own server)
// and a redis-server of this test, delivering to each other over their
// internal ports.
void ServerTest::StartCluster(std::vector<std::string> args, int nodes) {
  redis_ = std::make_unique<cluster::testing::RedisProcess>();
  ASSERT_TRUE(redis_->Start()) << "redis-server did not start";
  auto postgres = store::pg::TestPostgres::Shared();
  ASSERT_TRUE(postgres.ok()) << postgres.status().ToString();
  auto database = (*postgres)->Database("cluster_" + UniqueUser("db"));
  ASSERT_TRUE(database.ok()) << database.status().ToString();
  cluster_store_ = *database;
  for (int i = 0; i < nodes; ++i) {
    std::vector<std::string> node_args = args;
    node_args.insert(node_args.end(),
                     {"--store", *database, "--redis", redis_->url(), "--node-id",
                      std::to_string(i + 1), "--cluster-secret", "integration-test-cluster-secret"});
    auto node = std::make_unique<ServerProcess>(node_args);
    if (i > 0) node->UseDataDir(server_->data_dir());  // uploads readable through every node
    ASSERT_TRUE(node->Start()) << node->error() << "\n--- node log ---\n" << node->LogTail();
    if (i == 0) {
      server_ = std::move(node);
    } else {
      nodes_.push_back(std::move(node));
    }
  }
  http_ = std::make_unique<HttpClient>(server_->port());
}

std::optional<double> ServerTest::MetricOnAllNodes(std::string_view name) {
  std::optional<double> sum = ScrapeMetric(*http_, name);
  for (const auto& node : nodes_) {
    HttpClient other(node->port());
    auto value = ScrapeMetric(other, name);
    if (value) sum = sum.value_or(0) + *value;
  }
  return sum;
}

int ServerTest::ClusterNodes() const {
  const char* n = std::getenv("PARLEY_TEST_CLUSTER");
  return n != nullptr ? std::atoi(n) : 0;
}

uint16_t ServerTest::port() const {
  if (nodes_.empty()) return server_->port();
  size_t i = next_node_++ % (nodes_.size() + 1);
  return i == 0 ? server_->port() : nodes_[i - 1]->port();
}

void ServerTest::TearDown() {
  if (HasFailure() && server_) {
    std::cerr << "--- server log (tail) ---\n" << server_->LogTail(6000) << "\n---\n";
    for (size_t i = 0; i < nodes_.size(); ++i) {
      std::cerr << "--- node " << i + 2 << " log (tail) ---\n" << nodes_[i]->LogTail(4000) << "\n---\n";
    }
  }
}

bool ServerTest::RestartServer() {
  if (!server_->Restart()) return false;
  http_->set_port(server_->port());
  return true;
}

ServerTest::User ServerTest::NewUser(std::string_view prefix) {
  User u;
  u.id = UniqueUser(prefix);
  u.token = RegisterAndLogin(*http_, u.id);
  return u;
}

}  // namespace parley::testing
