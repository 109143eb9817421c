// Cluster mode (issue #9; docs/operations.md "Cluster"): three parley-server
// nodes on one PostgreSQL database and one redis-server, delivering to each
// other over their internal ports. What only a cluster can get wrong: order
// and idempotency with senders on different nodes, a node killed mid-burst,
// Redis and PostgreSQL restarts, and strangers on the internal port. (The
// feature suites run on a cluster too: ctest's *.cluster tests.)
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <thread>

#include "common/eventually.h"
#include "store/postgres/test_postgres.h"
#include "testing/helpers.h"

namespace parley::testing {
namespace {

constexpr int kTtlMs = 1500;
constexpr std::string_view kSecret = "integration-test-cluster-secret";

class ClusterIT : public ServerTest {
 protected:
  int ClusterNodes() const override { return 3; }
  std::vector<std::string> ExtraArgs() override {
    return {"--presence-ttl-ms", std::to_string(kTtlMs), "--presence-grace-ms", "200"};
  }

  // The internal port a node logged at start.
  static uint16_t InternalPort(const ServerProcess& node) {
    static const std::regex kReady("cluster_node_ready node=\\S+ internal=[0-9.]+:([0-9]+)");
    std::smatch m;
    std::string log = node.Log();
    if (!std::regex_search(log, m, kReady)) return 0;
    return static_cast<uint16_t>(std::stoi(m[1].str()));
  }

  // Sends `n` messages to a conversation pipelined; returns the acks by cmid.
  static std::map<std::string, json::object> SendMany(WsClient& ws, const std::string& conv,
                                                      const std::string& prefix, int n) {
    std::map<std::string, json::object> acks;
    std::set<std::string> pending;
    for (int i = 0; i < n; ++i) {
      std::string cmid = prefix + "-" + std::to_string(i);
      pending.insert(cmid);
      EXPECT_TRUE(ws.SendJson(ConvSendFrame(conv, cmid, cmid)));
    }
    while (!pending.empty()) {
      auto f = ws.ReadUntil(
          [](const json::object& o) { return Op(o) == "ack" || Op(o) == "error"; }, 15s);
      if (!f) break;
      EXPECT_EQ(Op(*f), "ack") << Dump(*f);
      std::string cmid = Str(*f, "client_msg_id");
      pending.erase(cmid);
      acks[cmid] = *f;
    }
    EXPECT_TRUE(pending.empty()) << pending.size() << " sends were not acknowledged";
    return acks;
  }

  // Reads message frames of `conv` until `count` distinct seqs arrived;
  // fails on a seq that does not rise (live order must be seq order).
  static std::vector<int64_t> ReadInOrder(WsClient& ws, const std::string& conv, size_t count) {
    std::vector<int64_t> seqs;
    while (seqs.size() < count) {
      auto f = ws.ReadUntil(
          [&](const json::object& o) {
            return Op(o) == "message" && Str(o, "conversation_id") == conv;
          },
          15s);
      if (!f) break;
      int64_t seq = Int(*f, "seq");
      if (!seqs.empty()) {
        EXPECT_GT(seq, seqs.back()) << "live delivery went back in seq";
      }
      seqs.push_back(seq);
    }
    EXPECT_EQ(seqs.size(), count);
    return seqs;
  }
};

TEST_F(ClusterIT, MessagesReceiptsAndTypingCrossNodes) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  auto a = ConnectReady(Node(0).port(), alice.token);
  auto b = ConnectReady(Node(1).port(), bob.token);
  ASSERT_TRUE(a && b);
  auto ack = SendAndAck(*a, bob.id, "hello across nodes", UniqueCmid());
  ASSERT_TRUE(ack);
  auto got = b->ReadOp("message", 5s);
  ASSERT_TRUE(got) << "bob on node 2 got nothing";
  EXPECT_EQ(Str(*got, "content"), "hello across nodes");
  std::string conv = Str(*ack, "conversation_id");
  // Bob reads it: Alice on node 1 sees the receipt live.
  ASSERT_TRUE(b->SendJson({{"op", "receipt"}, {"conversation_id", conv}, {"kind", "read"},
                           {"up_to_seq", Int(*ack, "seq")}}));
  auto receipt = a->ReadUntil(
      [](const json::object& o) { return Op(o) == "receipt" && Str(o, "kind") == "read"; }, 5s);
  ASSERT_TRUE(receipt) << "no receipt crossed the nodes";
  EXPECT_EQ(Str(*receipt, "user_id"), bob.id);
  // Typing in a group crosses too.
  auto carol = NewUser("carol");
  auto c = ConnectReady(Node(2).port(), carol.token);
  std::string group = CreateGroup(http(), alice.token, "g", {bob.id, carol.id});
  ASSERT_FALSE(group.empty());
  ASSERT_TRUE(b->SendJson({{"op", "typing"}, {"conversation_id", group}, {"state", "start"}}));
  auto typing = c->ReadOp("typing", 5s);
  ASSERT_TRUE(typing) << "carol on node 3 saw no typing";
  EXPECT_EQ(Str(*typing, "user_id"), bob.id);
}

TEST_F(ClusterIT, ConcurrentSendersOnDifferentNodesKeepOneOrderAndIdempotency) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  std::string group = CreateGroup(http(), alice.token, "race", {bob.id, carol.id});
  ASSERT_FALSE(group.empty());
  auto a = ConnectReady(Node(0).port(), alice.token);
  auto b = ConnectReady(Node(1).port(), bob.token);
  auto c3 = ConnectReady(Node(2).port(), carol.token);  // carol on two nodes
  auto c1 = ConnectReady(Node(0).port(), carol.token);
  ASSERT_TRUE(a && b && c3 && c1);
  constexpr int kEach = 150;
  std::map<std::string, json::object> acks_a, acks_b;
  std::thread ta([&] { acks_a = SendMany(*a, group, "a", kEach); });
  std::thread tb([&] { acks_b = SendMany(*b, group, "b", kEach); });
  std::vector<int64_t> seen3, seen1;
  std::thread r3([&] { seen3 = ReadInOrder(*c3, group, 2 * kEach); });
  std::thread r1([&] { seen1 = ReadInOrder(*c1, group, 2 * kEach); });
  ta.join();
  tb.join();
  r3.join();
  r1.join();
  // One gap-free order: 2 * kEach distinct seqs, each delivered once to each session.
  std::set<int64_t> acked;
  for (auto* acks : {&acks_a, &acks_b}) {
    for (auto& [cmid, ack] : *acks) acked.insert(Int(ack, "seq"));
  }
  ASSERT_EQ(acked.size(), 2u * kEach);
  EXPECT_EQ(*acked.rbegin() - *acked.begin() + 1, 2 * kEach) << "seqs have a gap";
  EXPECT_EQ(std::set<int64_t>(seen3.begin(), seen3.end()), acked);
  EXPECT_EQ(std::set<int64_t>(seen1.begin(), seen1.end()), acked);
  // The same client_msg_id through another node: the original ack, nothing stored.
  auto a2 = ConnectReady(Node(2).port(), alice.token);
  auto again = SendToConversation(*a2, group, "a-7", "a-7");
  ASSERT_TRUE(again);
  EXPECT_EQ(Int(*again, "seq"), Int(acks_a["a-7"], "seq"));
  EXPECT_EQ(Str(*again, "message_id"), Str(acks_a["a-7"], "message_id"));
  EXPECT_EQ(MessagesOnly(FetchAllHistory(http(), alice.token, group)).size(), 2u * kEach);
}

TEST_F(ClusterIT, AKilledNodesClientsMoveOnAndLoseNothingAcknowledged) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  auto b = ConnectReady(Node(0).port(), bob.token);
  auto c = ConnectReady(Node(0).port(), carol.token);
  auto a = ConnectReady(Node(1).port(), alice.token);
  ASSERT_TRUE(a && b && c);
  // Carol shares a conversation with alice and watches her presence from node 1.
  ASSERT_TRUE(SendAndAck(*c, alice.id, "hi", UniqueCmid()));
  ASSERT_TRUE(c->SendJson({{"op", "presence.subscribe"}, {"users", json::array{json::value(alice.id)}}}));
  ASSERT_TRUE(c->ReadUntil([&](const json::object& o) {
    return Op(o) == "presence" && Str(o, "user_id") == alice.id && Str(o, "status") == "online";
  }, 5s));
  // A burst from alice on node 2, killed part way.
  std::vector<std::string> cmids;
  for (int i = 0; i < 200; ++i) {
    cmids.push_back("burst-" + std::to_string(i));
    ASSERT_TRUE(a->SendJson(SendFrame(bob.id, cmids.back(), cmids.back())));
  }
  std::set<std::string> acked;
  while (acked.size() < 40) {
    auto f = a->ReadOp("ack", 5s);
    ASSERT_TRUE(f);
    acked.insert(Str(*f, "client_msg_id"));
  }
  Node(1).Kill9();
  auto killed_at = std::chrono::steady_clock::now();
  // Alice's presence goes offline for carol within the TTL.
  auto offline = c->ReadUntil([&](const json::object& o) {
    return Op(o) == "presence" && Str(o, "user_id") == alice.id && Str(o, "status") == "offline";
  }, std::chrono::milliseconds(kTtlMs * 3));
  ASSERT_TRUE(offline) << "alice never went offline";
  EXPECT_LE(std::chrono::steady_clock::now() - killed_at, std::chrono::milliseconds(kTtlMs + 1500));
  // Alice moves to node 3 and sends the whole burst again: the acked ones are
  // answered with their original acks, the rest stored once.
  auto a3 = ConnectReady(Node(2).port(), alice.token);
  ASSERT_TRUE(a3);
  for (const std::string& cmid : cmids) ASSERT_TRUE(a3->SendJson(SendFrame(bob.id, cmid, cmid)));
  std::set<std::string> acked_again;
  std::string conv;
  while (acked_again.size() < cmids.size()) {
    auto f = a3->ReadOp("ack", 10s);
    ASSERT_TRUE(f);
    acked_again.insert(Str(*f, "client_msg_id"));
    conv = Str(*f, "conversation_id");
  }
  // Bob (node 1) has each message exactly once, in history and by sync.
  auto history = MessagesOnly(FetchAllHistory(http(), bob.token, conv));
  std::multiset<std::string> contents;
  for (auto& m : history) contents.insert(Str(m, "content"));
  for (const std::string& cmid : cmids) EXPECT_EQ(contents.count(cmid), 1u) << cmid;
  auto synced = MessagesOnly(HttpSyncAll(http(), bob.token));
  EXPECT_EQ(InConversation(synced, conv).size(), cmids.size());
}

TEST_F(ClusterIT, DeliveryResumesAfterRedisRestarts) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  auto a = ConnectReady(Node(0).port(), alice.token);
  auto b = ConnectReady(Node(1).port(), bob.token);
  ASSERT_TRUE(SendAndAck(*a, bob.id, "before", UniqueCmid()));
  ASSERT_TRUE(b->ReadOp("message", 5s));
  redis_->Kill9();
  // Without Redis nothing is routed, but sends still commit and ack.
  ASSERT_TRUE(SendAndAck(*a, bob.id, "while redis is down", UniqueCmid()));
  ASSERT_TRUE(redis_->Start());
  // The nodes put their sessions and themselves back; live delivery resumes.
  bool live = Eventually([&] {
    if (!SendAndAck(*a, bob.id, "after", UniqueCmid())) return false;
    auto f = b->ReadUntil(
        [](const json::object& o) { return Op(o) == "message" && Str(o, "content") == "after"; },
        500ms);
    return f.has_value();
  }, 15s);
  EXPECT_TRUE(live) << "no live delivery across nodes after Redis came back";
  // Nothing acknowledged was lost: bob's sync has all three.
  auto synced = MessagesOnly(HttpSyncAll(http(), bob.token));
  std::set<std::string> contents;
  for (auto& m : synced) contents.insert(Str(m, "content"));
  EXPECT_TRUE(contents.count("while redis is down"));
}

TEST_F(ClusterIT, PostgresRestartFailsSendsFastThenTheyWorkAgain) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  auto a = ConnectReady(Node(0).port(), alice.token);
  auto b = ConnectReady(Node(2).port(), bob.token);
  auto first = SendAndAck(*a, bob.id, "before", UniqueCmid());
  ASSERT_TRUE(first);
  auto postgres = store::pg::TestPostgres::Shared();
  ASSERT_TRUE(postgres.ok());
  (*postgres)->Stop();
  auto started = std::chrono::steady_clock::now();
  std::string cmid = UniqueCmid();
  ASSERT_TRUE(a->SendJson(SendFrame(bob.id, "while postgres is down", cmid)));
  auto answer = a->ReadUntil(
      [](const json::object& o) { return Op(o) == "ack" || Op(o) == "error"; }, 15s);
  ASSERT_TRUE(answer) << "the send hung";
  EXPECT_EQ(Op(*answer), "error") << Dump(*answer);
  EXPECT_EQ(Str(*answer, "code"), "unavailable") << Dump(*answer);
  EXPECT_LE(std::chrono::steady_clock::now() - started, 10s);
  ASSERT_TRUE((*postgres)->Start().ok());
  // The same send succeeds once PostgreSQL is back, and the earlier one is still there.
  bool stored = Eventually([&] {
    auto ack = SendAndAck(*a, bob.id, "while postgres is down", cmid);
    return ack && Op(*ack) == "ack";
  }, 20s);
  ASSERT_TRUE(stored);
  auto history = MessagesOnly(FetchAllHistory(http(), bob.token, Str(*first, "conversation_id")));
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(Str(history[0], "content"), "before");
}

TEST_F(ClusterIT, TheInternalPortAcceptsOnlyNodesWithTheSecret) {
  uint16_t internal = InternalPort(Node(1));
  ASSERT_NE(internal, 0) << Node(1).LogTail();
  // HTTP: nothing there but a health check.
  HttpClient plain(internal);
  EXPECT_EQ(plain.Get("/v1/conversations").status, 404);
  EXPECT_EQ(plain.Get("/healthz").status, 200);
  // Wrong or missing secret: the upgrade is refused.
  for (std::string token : {std::string(), std::string("not-the-secret"), std::string(kSecret) + "x"}) {
    auto ws = WsClient::Connect(internal, WsWith(WsAuth::kHeader, token));
    EXPECT_FALSE(ws->connected() && ws->IsOpen() && PingPong(*ws, 1s)) << "accepted " << token;
  }
  // The right secret: bad frames are refused whole with an error, good ones delivered.
  auto bob = NewUser("bob");
  auto b = ConnectReady(Node(1).port(), bob.token);
  ASSERT_TRUE(b);
  auto link = WsClient::Connect(internal, WsWith(WsAuth::kHeader, std::string(kSecret)));
  ASSERT_TRUE(link->connected()) << link->error();
  for (std::string bad : {std::string("not json"), std::string(R"({"op":"send"})"),
                          std::string(R"({"op":"deliver"})"),
                          std::string(R"({"op":"deliver","items":[{"users":[],"frame":"x"}]})"),
                          std::string(R"({"op":"deliver","items":[{"users":["u"],"frame":7}]})"),
                          std::string(R"({"op":"deliver","items":[{"users":["u"],"frame":"x","seq":3}]})"),
                          std::string(R"({"op":"deliver","items":[{"users":["u"],"frame":"x","version":-1}]})")}) {
    ASSERT_TRUE(link->SendText(bad));
    auto err = link->ReadOp("error", 5s);
    ASSERT_TRUE(err) << "no error for " << bad;
    EXPECT_EQ(Str(*err, "code"), "bad_request") << bad;
  }
  json::object frame{{"op", "note"}, {"text", "from a node"}};
  json::object good{{"op", "deliver"},
                    {"items", json::array{json::object{{"users", json::array{json::value(bob.id)}},
                                                       {"frame", Dump(frame)}}}}};
  ASSERT_TRUE(link->SendJson(good));
  auto delivered = b->ReadOp("note", 5s);
  ASSERT_TRUE(delivered);
  EXPECT_EQ(Str(*delivered, "text"), "from a node");
}

TEST_F(ClusterIT, ASecondNodeWithTheSameIdRefusesToStart) {
  // The same flags as node 2 (its database, Redis, secret and --node-id 2).
  ServerProcess twin({"--store", cluster_store_, "--redis", redis_->url(), "--node-id", "2",
                      "--cluster-secret", std::string(kSecret)});
  EXPECT_FALSE(twin.Start(10s));
  EXPECT_NE(twin.Log().find("is in use"), std::string::npos) << twin.LogTail();
}

}  // namespace
}  // namespace parley::testing
