// The fault-injection runs (SPEC section 5): users chat in 1:1 and group
// conversations over the client library (one of them also over HTTP) and go
// offline now and then, while the nemesis hurts the processes serving them.
// A member with only a push device stays offline throughout. After the heal
// every client catches up, marks everything read, and the final sync of every
// user, the pushes and the whole history go to the checker (checker.h).
//  - SingleNodeKillPauseRestart: one server, kill -9/restart and SIGSTOP/SIGCONT.
//  - ClusterKillPauseRestart: three nodes sharing PostgreSQL and Redis, users
//    spread over them; kill -9/restart or SIGSTOP/SIGCONT of one node, kill -9
//    and restart of redis-server, stop and start of PostgreSQL. A user whose
//    node stays unreachable is moved to the next node, as a load balancer would.
//
// Flags (or environment): --seed=N (PARLEY_FAULTS_SEED; default random, always
// printed), --cycles=N (PARLEY_FAULTS_CYCLES, kill/restart cycles, default 20),
// --soak=SECONDS (PARLEY_FAULTS_SOAK: keep injecting faults this long),
// --history=FILE (PARLEY_FAULTS_HISTORY: where the history is written).
#include <gtest/gtest.h>

#include <fstream>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <thread>

#include "cluster/testing/redis_process.h"
#include "faults/checker.h"
#include "faults/history.h"
#include "faults/nemesis.h"
#include "faults/traffic.h"
#include "store/postgres/test_postgres.h"
#include "testing/fake_push.h"
#include "testing/helpers.h"

namespace parley::faults {
namespace {

namespace json = boost::json;
using testing::HttpClient;
using Clock = std::chrono::steady_clock;

struct RunConfig {
  uint64_t seed = 0;
  int cycles = 20;
  int soak_s = 0;
  std::string history_path;
};
RunConfig g_config;

constexpr std::string_view kSecret = "faults-webhook-secret";
const std::vector<std::string> kActors = {"ann", "ben", "cat", "dan", "eve"};
const std::string kHttpUser = "eve";  // also sends over POST /v1/messages
const std::string kOffline = "zoe";   // push device only; connects after the heal

bool WaitUntil(const std::function<bool()>& done, Millis timeout, Millis step = Millis(100)) {
  auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
  return true;
}

Millis Uniform(Rng& rng, int lo_ms, int hi_ms) {
  return Millis(std::uniform_int_distribution<int>(lo_ms, hi_ms)(rng));
}

// What a load balancer in front of a cluster does for one user: once its
// client has been unable to get through for a while (its node killed or
// frozen), the next connection goes to another node.
class Balancer {
 public:
  Balancer(const std::vector<std::string>& urls, Rng& rng) : urls_(urls), rng_(rng) {}

  void Check(Actor& actor) {
    if (urls_.size() < 2 || !actor.online() || actor.live()) {
      stuck_since_.reset();
      return;
    }
    auto now = Clock::now();
    if (!stuck_since_) stuck_since_ = now;
    if (now - *stuck_since_ < kPatience) return;
    stuck_since_.reset();
    actor.MoveTo(urls_[std::uniform_int_distribution<size_t>(0, urls_.size() - 1)(rng_)]);
  }

 private:
  static constexpr Millis kPatience{2000};
  const std::vector<std::string>& urls_;
  Rng& rng_;
  std::optional<Clock::time_point> stuck_since_;
};

using Faults = std::vector<std::pair<std::unique_ptr<Fault>, int>>;

class FaultRun : public ::testing::Test {
 protected:
  void RunFaults(Faults faults, const std::string& default_history);

  void SetUp() override {
    ASSERT_TRUE(fake_.ok()) << fake_.error();
    fake_.Reset();
  }

  std::vector<std::string> ServerArgs() {
    std::vector<std::string> args = fake_.ServerArgs(kSecret);
    for (std::string a :
         {"--push-allow-private-urls", "--push-coalesce-ms", "200", "--push-backoff-base-ms", "100",
          "--push-backoff-max-ms", "1000", "--send-rate", "1000", "--send-burst", "1000",
          "--ws-idle-timeout", "4"}) {
      args.push_back(a);
    }
    return args;
  }

  // Starts one server on `args`; every later start keeps its port.
  void StartServer(std::vector<std::string> args) {
    auto& server = servers_.emplace_back(std::make_unique<testing::ServerProcess>(args));
    server->KeepPort();
    ASSERT_TRUE(server->Start()) << server->error() << server->LogTail();
    urls_.push_back("http://127.0.0.1:" + std::to_string(server->port()));
    if (servers_.size() > 1) return;
    http_ = std::make_unique<HttpClient>(server->port());
    clients_dir_ = std::filesystem::path(server->data_dir()).parent_path() / "clients";
    std::filesystem::create_directories(clients_dir_);
  }

  void StartSingleNode() {
    ASSERT_NO_FATAL_FAILURE(StartServer(ServerArgs()));
    // The default durability: acks only after the commit is synced.
    ASSERT_NE(servers_[0]->Log().find("durability=fsync"), std::string::npos)
        << servers_[0]->LogTail();
  }

  // `nodes` servers sharing a fresh database of the test binary's PostgreSQL
  // and a redis-server of this test.
  void StartCluster(int nodes) {
    redis_ = std::make_unique<cluster::testing::RedisProcess>();
    ASSERT_TRUE(redis_->Start()) << "redis-server did not start";
    auto postgres = store::pg::TestPostgres::Shared();
    ASSERT_TRUE(postgres.ok()) << postgres.status().ToString();
    postgres_ = *postgres;
    auto database = postgres_->Database("faults_" + testing::UniqueUser("db"));
    ASSERT_TRUE(database.ok()) << database.status().ToString();
    for (int i = 1; i <= nodes; ++i) {
      std::vector<std::string> args = ServerArgs();
      args.insert(args.end(),
                  {"--store", *database, "--redis", redis_->url(), "--node-id", std::to_string(i),
                   "--cluster-secret", "faults-cluster-secret-0123"});
      ASSERT_NO_FATAL_FAILURE(StartServer(args));
    }
  }

  void TearDown() override {
    actors_.clear();
    for (auto& server : servers_) server->Stop();
    // The shared PostgreSQL outlives this test: leave it running.
    if (postgres_ && !postgres_->running()) EXPECT_TRUE(postgres_->Start().ok());
  }

  void Member(const std::string& user, const std::string& conversation) {
    convs_[user].push_back(conversation);
    history_.Add(Op{.type = OpType::kMember, .process = user, .conversation = conversation});
  }

  // Users, a push device for the offline one, groups and 1:1 conversations.
  void CreateWorld() {
    std::vector<std::string> users = kActors;
    users.push_back(kOffline);
    for (const std::string& u : users) {
      tokens_[u] = testing::RegisterAndLogin(*http_, u);
      ASSERT_FALSE(tokens_[u].empty());
    }
    auto device = http_->Post(
        "/v1/devices",
        json::object{{"platform", "webhook"}, {"url", fake_.HttpUrl("/hook/" + kOffline)}},
        tokens_[kOffline]);
    ASSERT_EQ(device.status, 201) << device.Describe();
    history_.Add(Op{.type = OpType::kOffline, .process = kOffline});

    std::map<std::string, std::vector<std::string>> groups = {
        {"everyone", {"ben", "cat", "dan", "eve", kOffline}}, {"trio", {"cat", "eve"}}};
    for (const auto& [name, others] : groups) {
      std::string id = testing::CreateGroup(*http_, tokens_["ann"], name, others);
      ASSERT_FALSE(id.empty());
      Member("ann", id);
      for (const std::string& u : others) Member(u, id);
    }
    // A 1:1 conversation starts with its first message (sent over HTTP, by user id).
    std::atomic<bool> never{false};
    for (auto [a, b] : std::vector<std::pair<std::string, std::string>>{{"ann", "ben"},
                                                                        {"ben", "cat"},
                                                                        {"cat", "dan"},
                                                                        {"dan", "eve"},
                                                                        {"eve", "ann"},
                                                                        {"ann", kOffline},
                                                                        {"cat", kOffline}}) {
      HttpSender first(history_, a, tokens_[a], urls_);
      std::string id = first.Send(b, "", never);
      ASSERT_FALSE(id.empty()) << a << " → " << b;
      Member(a, id);
      Member(b, id);
    }
  }

  // Actors are spread over the servers in turn.
  Actor& NewActor(const std::string& user) {
    auto state = (clients_dir_ / ("state-" + user + ".json")).string();
    const std::string& url = urls_[actors_.size() % urls_.size()];
    auto& a = actors_[user] = std::make_unique<Actor>(history_, user, tokens_[user], url, state);
    return *a;
  }

  // One user's traffic: sends to its conversations, reads, and now and then
  // goes offline for a while.
  void ActorLoop(Actor& actor, uint64_t seed, const std::atomic<bool>& stop) {
    Rng rng(seed);
    const auto& mine = convs_[actor.user()];
    std::uniform_int_distribution<size_t> pick(0, mine.size() - 1);
    std::uniform_real_distribution<double> chance(0, 1);
    Balancer balancer(urls_, rng);
    while (!stop) {
      std::this_thread::sleep_for(Uniform(rng, 20, 120));
      balancer.Check(actor);
      double r = chance(rng);
      if (r < 0.02) {
        actor.Disconnect();
        WaitUntil([&] { return stop.load(); }, Uniform(rng, 300, 2000), Millis(20));
        std::string error;
        ASSERT_TRUE(actor.Connect(&error)) << error;
      } else if (r < 0.12) {
        actor.MarkRead(mine[pick(rng)]);
      } else {
        actor.Send(mine[pick(rng)]);
      }
    }
  }

  void HttpLoop(uint64_t seed, const std::atomic<bool>& stop, const std::atomic<bool>& abandon) {
    Rng rng(seed);
    HttpSender sender(history_, kHttpUser, tokens_[kHttpUser], urls_);
    const auto& mine = convs_[kHttpUser];
    std::uniform_int_distribution<size_t> pick(0, mine.size() - 1);
    while (!stop) {
      std::this_thread::sleep_for(Uniform(rng, 50, 250));
      sender.Send("", mine[pick(rng)], abandon);  // retried until acked, faults or not
    }
  }

  // The final state of the store as each user syncs it from the start, and
  // the pushes received so far.
  std::vector<Op> FinalOps() {
    std::vector<Op> ops;
    for (const auto& [user, token] : tokens_) {
      for (const json::object& f : testing::HttpSyncAll(*http_, token)) {
        std::string op = testing::Op(f);
        std::string conversation = testing::Str(f, "conversation_id");
        if (op == "message" || op == "event") {
          ops.push_back(Op{.type = OpType::kDeliver,
                           .process = user,
                           .conversation = conversation,
                           .seq = static_cast<uint64_t>(testing::Int(f, "seq")),
                           .cmid = testing::Str(f, "client_msg_id"),
                           .sender = testing::Str(f, "sender"),
                           .kind = op,
                           .source = "final"});
        } else if (op == "receipt") {
          ops.push_back(Op{.type = OpType::kReceipt,
                           .process = user,
                           .conversation = conversation,
                           .seq = static_cast<uint64_t>(testing::Int(f, "up_to_seq")),
                           .user = testing::Str(f, "user_id"),
                           .kind = testing::Str(f, "kind"),
                           .source = "final"});
        }
      }
    }
    for (const json::object& r : fake_.RequestsTo("/hook/")) {
      json::value body = json::parse(testing::Str(r, "body"));
      if (!body.is_object()) continue;
      const json::object& b = body.get_object();
      ops.push_back(Op{.type = OpType::kPush,
                       .process = testing::Str(b, "user_id"),
                       .conversation = testing::Str(b, "conversation_id"),
                       .seq = static_cast<uint64_t>(testing::Int(b, "count")),
                       .source = "final"});
    }
    return ops;
  }

  CheckResult CheckWith(const std::vector<Op>& final_ops) {
    std::vector<Op> all = history_.Snapshot();
    all.insert(all.end(), final_ops.begin(), final_ops.end());
    return Check(all);
  }

  // Every client has released everything its final sync holds.
  bool CaughtUp(const std::vector<Op>& final_ops) {
    std::map<std::pair<std::string, std::string>, uint64_t> top;
    for (const Op& op : final_ops) {
      if (op.type != OpType::kDeliver) continue;
      uint64_t& t = top[{op.process, op.conversation}];
      t = std::max(t, op.seq);
    }
    for (const auto& [user, actor] : actors_) {
      if (!actor->live() || actor->pending() > 0) return false;
      for (const std::string& c : convs_[user]) {
        if (actor->Released(c) != top[{user, c}]) return false;
      }
    }
    return true;
  }

  testing::FakePushProviders& fake_ = testing::SharedFakePushProviders();
  std::vector<std::unique_ptr<testing::ServerProcess>> servers_;
  std::unique_ptr<cluster::testing::RedisProcess> redis_;  // cluster only
  store::pg::TestPostgres* postgres_ = nullptr;            // cluster only
  std::unique_ptr<HttpClient> http_;                       // to the first server
  std::vector<std::string> urls_;                          // of every server
  std::filesystem::path clients_dir_;
  History history_;
  std::map<std::string, std::string> tokens_;
  std::map<std::string, std::vector<std::string>> convs_;  // user → conversations
  std::map<std::string, std::unique_ptr<Actor>> actors_;
};

// The run on the started servers: world, traffic under `faults` (the first
// one's count is --cycles), heal, catch-up and the check. The history goes to
// --history, else `default_history`.
void FaultRun::RunFaults(Faults faults, const std::string& default_history) {
  const RunConfig& cfg = g_config;
  std::printf("[faults] seed=%" PRIu64 " cycles>=%d soak=%ds (rerun: PARLEY_FAULTS_SEED=%" PRIu64
              ")\n",
              cfg.seed, cfg.cycles, cfg.soak_s, cfg.seed);
  auto started = Clock::now();
  ASSERT_NO_FATAL_FAILURE(CreateWorld());
  for (const std::string& u : kActors) {
    std::string error;
    ASSERT_TRUE(NewActor(u).Connect(&error)) << error;
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        return std::all_of(actors_.begin(), actors_.end(),
                           [](auto& a) { return a.second->live(); });
      },
      Millis(20'000)));

  // Traffic and faults.
  std::atomic<bool> stop{false}, abandon{false};
  std::vector<std::thread> traffic;
  uint64_t n = 0;
  for (auto& [user, actor] : actors_) {
    traffic.emplace_back(
        [this, a = actor.get(), s = cfg.seed + ++n, &stop] { ActorLoop(*a, s, stop); });
  }
  traffic.emplace_back([this, s = cfg.seed + 100, &stop, &abandon] { HttpLoop(s, stop, abandon); });

  std::vector<std::unique_ptr<ServerNode>> nodes;
  std::vector<Node*> targets;
  for (auto& server : servers_) {
    std::string name = servers_.size() == 1 ? "server" : "node" + std::to_string(nodes.size() + 1);
    targets.push_back(nodes.emplace_back(std::make_unique<ServerNode>(*server, name)).get());
  }
  const std::string first = faults.front().first->name();
  NemesisOptions options{.seed = cfg.seed,
                         .min_cycles = cfg.cycles,
                         .min_duration = Millis(int64_t{cfg.soak_s} * 1000)};
  options.max_duration = std::max(Millis(600'000), options.min_duration + Millis(120'000));
  Nemesis nemesis(targets, std::move(faults), history_, options);
  std::atomic<bool> never{false};
  bool survived = nemesis.Run(never);
  bool healed = nemesis.Heal();
  stop = true;
  // An HTTP send in progress is retried until acked; give up only if the heal failed.
  if (!healed) abandon = true;
  for (auto& t : traffic) t.join();
  ASSERT_TRUE(survived) << nemesis.error();
  ASSERT_TRUE(healed) << nemesis.error();
  auto faulted = Clock::now();

  // Catch up: every client online and its outbox acked; the offline member's
  // pushes have all arrived (before it connects: a push due when the user is
  // back is dropped, the client syncs instead).
  for (auto& [user, actor] : actors_) {
    std::string error;
    ASSERT_TRUE(actor->Connect(&error)) << error;
  }
  bool drained = WaitUntil(
      [&] {
        return std::all_of(actors_.begin(), actors_.end(),
                           [](auto& a) { return a.second->live() && a.second->pending() == 0; });
      },
      Millis(60'000));
  EXPECT_TRUE(drained) << "outboxes not drained after the heal";
  WaitUntil([&] { return CheckWith(FinalOps()).Count("push") == 0; }, Millis(30'000), Millis(500));
  std::string error;
  ASSERT_TRUE(NewActor(kOffline).Connect(&error)) << error;

  // Converge: all clients caught up, then everything marked read, then wait
  // for the checker to be satisfied (or time out and report what is wrong).
  std::vector<Op> final_ops;
  bool marked = false;
  WaitUntil(
      [&] {
        final_ops = FinalOps();
        if (!marked) {
          if (!CaughtUp(final_ops)) return false;
          for (auto& [user, actor] : actors_) {
            actor->SetHealed();
            for (const std::string& c : convs_[user]) actor->MarkRead(c);
          }
          marked = true;
          return false;
        }
        return CheckWith(final_ops).ok();
      },
      Millis(60'000), Millis(500));
  EXPECT_TRUE(marked) << "clients never caught up with their final sync";
  for (Op& op : final_ops) history_.Add(std::move(op));

  CheckResult result = Check(history_.Snapshot());
  auto counts = nemesis.counts();
  std::string path = cfg.history_path.empty() ? default_history : cfg.history_path;
  history_.SaveJsonl(path);
  auto secs = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::seconds>(d).count();
  };
  std::string injected;
  for (const auto& [name, count] : counts) injected += name + "=" + std::to_string(count) + " ";
  std::printf("[faults] seed=%" PRIu64 " %sfaults_s=%lld total_s=%lld history=%s\n[faults] %s\n",
              cfg.seed, injected.c_str(), static_cast<long long>(secs(faulted - started)),
              static_cast<long long>(secs(Clock::now() - started)), path.c_str(),
              result.Summary().c_str());
  EXPECT_GE(counts[first], cfg.cycles);
  for (size_t i = 0; i < servers_.size(); ++i) {
    EXPECT_EQ(servers_[i]->Stop(), 0) << "no clean exit on SIGTERM after the faults\n"
                                      << servers_[i]->LogTail();
    // Beside the history: every server's whole log, across its restarts.
    std::ofstream(path + ".server" + std::to_string(i + 1) + ".log") << servers_[i]->Log();
  }
  EXPECT_TRUE(result.ok()) << "seed " << cfg.seed << ": " << result.Summary();
  EXPECT_GT(result.acked, 100u) << "too little traffic to mean anything";
}

TEST_F(FaultRun, SingleNodeKillPauseRestart) {
  ASSERT_NO_FATAL_FAILURE(StartSingleNode());
  Faults faults;
  faults.emplace_back(std::make_unique<KillRestart>(Millis(700)), 7);
  faults.emplace_back(std::make_unique<PauseResume>(Millis(200), Millis(2500)), 3);
  RunFaults(std::move(faults), "faults-history.jsonl");
}

TEST_F(FaultRun, ClusterKillPauseRestart) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  Faults faults;
  faults.emplace_back(std::make_unique<KillRestart>(Millis(700)), 5);
  faults.emplace_back(std::make_unique<PauseResume>(Millis(200), Millis(2500)), 2);
  auto* redis = redis_.get();
  faults.emplace_back(std::make_unique<Outage>(
                          "redis-kill9",
                          Outage::Service{.name = "redis-server",
                                          .stop = [redis] { redis->Kill9(); },
                                          .start = [redis](std::string*) { return redis->Start(); },
                                          .running = [redis] { return redis->running(); }},
                          Millis(300), Millis(2000)),
                      2);
  auto* postgres = postgres_;
  faults.emplace_back(std::make_unique<Outage>(
                          "postgres-stop",
                          Outage::Service{.name = "postgresql",
                                          .stop = [postgres] { postgres->Stop(); },
                                          .start =
                                              [postgres](std::string* error) {
                                                Status s = postgres->Start();
                                                if (!s.ok() && error) *error = s.ToString();
                                                return s.ok();
                                              },
                                          .running = [postgres] { return postgres->running(); }},
                          Millis(500), Millis(2500)),
                      2);
  RunFaults(std::move(faults), "faults-cluster-history.jsonl");
}

// --seed=N style flags, falling back to the environment.
std::string Flag(int argc, char** argv, const std::string& name, const char* env) {
  std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind(prefix, 0) == 0) return a.substr(prefix.size());
  }
  const char* v = std::getenv(env);
  return v ? v : "";
}

}  // namespace
}  // namespace parley::faults

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  using parley::faults::Flag;
  auto& c = parley::faults::g_config;
  std::string seed = Flag(argc, argv, "seed", "PARLEY_FAULTS_SEED");
  c.seed = seed.empty() ? std::random_device{}() : std::strtoull(seed.c_str(), nullptr, 10);
  if (std::string v = Flag(argc, argv, "cycles", "PARLEY_FAULTS_CYCLES"); !v.empty()) {
    c.cycles = std::atoi(v.c_str());
  }
  if (std::string v = Flag(argc, argv, "soak", "PARLEY_FAULTS_SOAK"); !v.empty()) {
    c.soak_s = std::atoi(v.c_str());
  }
  c.history_path = Flag(argc, argv, "history", "PARLEY_FAULTS_HISTORY");
  return RUN_ALL_TESTS();
}
