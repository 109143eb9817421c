// Durable ack (SPEC §5.1): every acknowledged message survives kill -9 and
// SIGTERM; seqs stay gap-free; idempotency keys survive restarts.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "testing/helpers.h"

namespace parley::testing {
namespace {

class DurabilityTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--send-rate", "100000", "--send-burst", "100000"};
  }
};

struct Sent {
  std::string sender, to, cmid, content;
  std::string conversation_id, message_id;  // empty if never acked
  int64_t seq = 0;
};

class Ledger {
 public:
  void Add(Sent s) {
    std::lock_guard lock(mu_);
    if (!s.message_id.empty()) ++acked_;
    all_.push_back(std::move(s));
  }
  int acked() const {
    std::lock_guard lock(mu_);
    return acked_;
  }
  std::vector<Sent> all() const {
    std::lock_guard lock(mu_);
    return all_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Sent> all_;
  int acked_ = 0;
};

// Sends continuously with up to `window` sends in flight until the
// connection dies or `stop` is set; records every send, acked or not.
void WsSender(WsClient& ws, std::string sender, std::string to, std::string tag,
              std::atomic<bool>& stop, Ledger& ledger) {
  std::map<std::string, Sent> pending;
  int n = 0;
  constexpr size_t kWindow = 8;
  while (!stop && ws.IsOpen()) {
    while (pending.size() < kWindow && !stop) {
      Sent s{sender, to, UniqueCmid(tag), tag + "-" + std::to_string(n++), {}, {}};
      if (!ws.SendJson(SendFrame(to, s.content, s.cmid))) break;
      pending.emplace(s.cmid, s);
    }
    auto f = ws.ReadUntil([](auto& f) { return Op(f) == "ack" || Op(f) == "error"; }, 10s);
    if (!f) break;
    auto it = pending.find(Str(*f, "client_msg_id"));
    if (Op(*f) != "ack" || it == pending.end()) {
      ADD_FAILURE() << "unexpected reply during burst: " << Dump(*f);
      break;
    }
    it->second.conversation_id = Str(*f, "conversation_id");
    it->second.message_id = Str(*f, "message_id");
    it->second.seq = Int(*f, "seq");
    ledger.Add(it->second);
    pending.erase(it);
  }
  for (auto& [cmid, s] : pending) ledger.Add(s);  // in flight at the crash
}

void HttpSender(uint16_t port, std::string sender, std::string token, std::string to,
                std::atomic<bool>& stop, Ledger& ledger) {
  HttpClient http(port, 5s);
  for (int n = 0; !stop; ++n) {
    Sent s{sender, to, UniqueCmid("http"), "http-" + std::to_string(n), {}, {}};
    auto res = http.Post("/v1/messages", SendFrame(to, s.content, s.cmid), token);
    if (res.status == 201) {
      auto ack = res.object();
      s.conversation_id = Str(ack, "conversation_id");
      s.message_id = Str(ack, "message_id");
      s.seq = Int(ack, "seq");
    }
    ledger.Add(s);
    if (res.status != 201) break;
  }
}

// Every acked message is in history exactly as acked; seqs are gap-free;
// no client_msg_id of a sender appears twice.
void VerifyHistory(HttpClient& http, const std::string& token, const std::vector<Sent>& sent,
                   std::map<std::string, int64_t>* last_seq = nullptr) {
  std::set<std::string> convs;
  for (auto& s : sent) {
    if (!s.conversation_id.empty()) convs.insert(s.conversation_id);
  }
  std::map<std::string, json::object> by_id;
  for (auto& conv : convs) {
    auto items = FetchAllHistory(http, token, conv);
    ASSERT_FALSE(items.empty()) << conv;
    std::set<std::pair<std::string, std::string>> keys;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) {
        EXPECT_EQ(Int(items[i], "seq"), Int(items[i - 1], "seq") + 1) << "gap in " << conv;
      }
      if (Op(items[i]) != "message") continue;
      by_id[Str(items[i], "message_id")] = items[i];
      EXPECT_TRUE(keys.insert({Str(items[i], "sender"), Str(items[i], "client_msg_id")}).second)
          << "client_msg_id stored twice: " << Dump(items[i]);
    }
    if (last_seq) (*last_seq)[conv] = Int(items.back(), "seq");
  }
  int checked = 0;
  for (auto& s : sent) {
    if (s.message_id.empty()) continue;
    auto it = by_id.find(s.message_id);
    if (it == by_id.end()) {
      ADD_FAILURE() << "acked message lost: " << s.sender << " " << s.content << " seq " << s.seq;
      continue;
    }
    EXPECT_EQ(Int(it->second, "seq"), s.seq) << s.content;
    EXPECT_EQ(Str(it->second, "content"), s.content);
    EXPECT_EQ(Str(it->second, "sender"), s.sender);
    EXPECT_EQ(Str(it->second, "conversation_id"), s.conversation_id);
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST_F(DurabilityTest, Kill9DuringBurstLosesNoAckedMessage) {
  auto receiver = NewUser("recv");
  std::vector<User> senders;
  for (int i = 0; i < 4; ++i) senders.push_back(NewUser("snd" + std::to_string(i)));
  auto http_sender = NewUser("hsnd");
  std::vector<std::unique_ptr<WsClient>> conns;
  for (auto& s : senders) conns.push_back(ConnectReady(port(), s.token));
  conns.push_back(ConnectReady(port(), senders[0].token));  // 2 sessions write one conversation
  auto listener = ConnectReady(port(), receiver.token);

  Ledger ledger;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < conns.size(); ++i) {
    auto& user = senders[i % senders.size()];
    threads.emplace_back([&, i] {
      WsSender(*conns[i], user.id, receiver.id, "w" + std::to_string(i), stop, ledger);
    });
  }
  threads.emplace_back([&] { HttpSender(port(), http_sender.id, http_sender.token, receiver.id, stop, ledger); });

  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (ledger.acked() < 300 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(2ms);
  }
  int acked_before_kill = ledger.acked();
  server_->Kill9();
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_GE(acked_before_kill, 50) << "burst too slow to be meaningful";

  ASSERT_TRUE(RestartServer()) << server_->error() << server_->LogTail();
  auto sent = ledger.all();
  std::map<std::string, int64_t> last_seq;
  VerifyHistory(http(), receiver.token, sent, &last_seq);

  // Clients retry what was in flight with the same client_msg_id: each is
  // stored at most once and seqs continue without gaps.
  std::map<std::string, std::unique_ptr<WsClient>> fresh;
  std::map<std::string, std::string> tokens{{http_sender.id, http_sender.token}};
  for (auto& s : senders) tokens[s.id] = s.token;
  std::vector<Sent> retried;
  for (auto s : sent) {
    if (!s.message_id.empty()) continue;
    auto& ws = fresh[s.sender];
    if (!ws) ws = ConnectReady(port(), tokens[s.sender]);
    auto ack = SendAndAck(*ws, s.to, s.content, s.cmid);
    ASSERT_TRUE(ack && Op(*ack) == "ack") << (ack ? Dump(*ack) : "timeout");
    s.conversation_id = Str(*ack, "conversation_id");
    s.message_id = Str(*ack, "message_id");
    s.seq = Int(*ack, "seq");
    retried.push_back(s);
  }
  for (auto& s : retried) sent.push_back(s);
  VerifyHistory(http(), receiver.token, sent);
  RecordProperty("acked_before_kill", acked_before_kill);
  RecordProperty("in_flight_retried", static_cast<int>(retried.size()));
}

TEST_F(DurabilityTest, AckedMessageSurvivesImmediateKill9) {
  auto alice = NewUser("alice");
  auto bob = NewUser("bob");
  std::vector<Sent> sent;
  for (int round = 0; round < 3; ++round) {
    auto a = ConnectReady(port(), alice.token);
    Sent s{alice.id, bob.id, UniqueCmid(), "round-" + std::to_string(round), {}, {}};
    auto ack = SendAndAck(*a, bob.id, s.content, s.cmid);
    ASSERT_TRUE(ack && Op(*ack) == "ack");
    server_->Kill9();  // right after the ack
    s.conversation_id = Str(*ack, "conversation_id");
    s.message_id = Str(*ack, "message_id");
    s.seq = Int(*ack, "seq");
    sent.push_back(s);
    ASSERT_TRUE(RestartServer()) << server_->error();
  }
  EXPECT_EQ(sent[1].seq, sent[0].seq + 1);
  EXPECT_EQ(sent[2].seq, sent[1].seq + 1);
  VerifyHistory(http(), bob.token, sent);
}

TEST_F(DurabilityTest, SigtermExitsZeroAndRestartKeepsHistorySeqAndIdempotency) {
  auto alice = NewUser("alice");
  auto bob = NewUser("bob");
  auto a = ConnectReady(port(), alice.token);
  auto acks = SendBatch(*a, bob.id, 40, "term");
  ASSERT_EQ(acks.size(), 40u);
  std::vector<Sent> sent;
  for (size_t i = 0; i < acks.size(); ++i) {
    sent.push_back({alice.id, bob.id, Str(acks[i], "client_msg_id"), "term-" + std::to_string(i),
                    Str(acks[i], "conversation_id"), Str(acks[i], "message_id"), Int(acks[i], "seq")});
  }
  EXPECT_EQ(server_->Stop(), 0) << server_->LogTail();
  ASSERT_TRUE(RestartServer()) << server_->error();
  VerifyHistory(http(), bob.token, sent);

  auto a2 = ConnectReady(port(), alice.token);
  // Same client_msg_id after a restart: the original ack, nothing new.
  auto replay = SendAndAck(*a2, bob.id, "term-0", sent[0].cmid);
  ASSERT_TRUE(replay);
  EXPECT_EQ(Str(*replay, "message_id"), sent[0].message_id) << Dump(*replay);
  EXPECT_EQ(Int(*replay, "seq"), sent[0].seq);
  // The conversation and its seq continue.
  auto next = SendAndAck(*a2, bob.id, "after restart", UniqueCmid());
  ASSERT_TRUE(next && Op(*next) == "ack");
  EXPECT_EQ(Str(*next, "conversation_id"), sent[0].conversation_id);
  EXPECT_EQ(Int(*next, "seq"), sent.back().seq + 1);
  // Offline delivery state survives too: bob syncs everything.
  auto b = ConnectReady(port(), bob.token);
  std::vector<json::object> frames;
  json::value cursor;
  for (int page = 0; page < 100; ++page) {  // follow `more` pages
    json::object sync{{"op", "sync"}, {"id", "all"}};
    if (!cursor.is_null()) sync["cursor"] = cursor;
    ASSERT_TRUE(b->SendJson(sync));
    auto synced = b->ReadUntil([](auto& f) { return Op(f) == "synced"; }, 10s, &frames);
    ASSERT_TRUE(synced);
    cursor = synced->contains("cursor") ? synced->at("cursor") : json::value();
    auto* more = synced->if_contains("more");
    if (!more || !more->is_bool() || !more->as_bool()) break;
  }
  EXPECT_EQ(MessagesOnly(frames).size(), 41u);
}

}  // namespace
}  // namespace parley::testing
