// Offline catch-up (WS `sync`, HTTP long-poll /v1/sync), history paging (WS
// `history`, GET .../messages) and the conversation list.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "testing/helpers.h"

namespace parley::testing {
namespace {

class OfflineHistoryTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--send-rate", "100000", "--send-burst", "100000"};
  }
};

std::vector<std::string> Ids(const std::vector<json::object>& frames) {
  std::vector<std::string> out;
  for (auto& f : frames) out.push_back(Str(f, "message_id"));
  return out;
}

std::vector<int64_t> Seqs(const std::vector<json::object>& frames) {
  std::vector<int64_t> out;
  for (auto& f : frames) out.push_back(Int(f, "seq"));
  return out;
}

// Sends a `sync` and returns (message frames before `synced`, synced frame).
std::pair<std::vector<json::object>, json::object> Sync(WsClient& ws, const json::value* cursor,
                                                        std::string id) {
  json::object frame{{"op", "sync"}, {"id", id}};
  if (cursor) frame["cursor"] = *cursor;
  EXPECT_TRUE(ws.SendJson(frame));
  std::vector<json::object> before;
  auto synced = ws.ReadUntil([&](auto& f) { return Op(f) == "synced" && Str(f, "id") == id; }, 10s, &before);
  EXPECT_TRUE(synced) << "no synced for " << id;
  return {MessagesOnly(before), synced.value_or(json::object())};
}

TEST_F(OfflineHistoryTest, OfflineUserCatchesUpWithWsSync) {
  auto alice = NewUser("alice");
  auto bob = NewUser("bob");
  auto a = ConnectReady(port(), alice.token);
  auto acks = SendBatch(*a, bob.id, 3, "offline");
  ASSERT_EQ(acks.size(), 3u);

  auto b = ConnectReady(port(), bob.token);
  auto [missed, synced] = Sync(*b, nullptr, "s1");
  EXPECT_EQ(Ids(missed), Ids(acks));
  EXPECT_EQ(Seqs(missed), Seqs(acks));
  for (size_t i = 0; i < missed.size(); ++i) {
    EXPECT_EQ(Str(missed[i], "content"), "offline-" + std::to_string(i));
    EXPECT_EQ(Str(missed[i], "sender"), alice.id);
  }
  ASSERT_TRUE(synced.contains("cursor")) << Dump(synced);
  json::value cursor = synced.at("cursor");
  EXPECT_FALSE(cursor.is_null());

  auto [again, synced2] = Sync(*b, &cursor, "s2");
  EXPECT_TRUE(again.empty()) << "second sync re-sent " << again.size() << " messages";
  json::value cursor2 = synced2.contains("cursor") ? synced2.at("cursor") : cursor;

  // Offline again: only the new messages come with the cursor.
  b.reset();
  auto more = SendBatch(*a, bob.id, 2, "later");
  ASSERT_EQ(more.size(), 2u);
  auto b2 = ConnectReady(port(), bob.token);
  auto [newer, synced3] = Sync(*b2, &cursor2, "s3");
  EXPECT_EQ(Ids(newer), Ids(more));
}

// SPEC 5.3: while a sync runs, live traffic keeps flowing; the session loses
// nothing and, once synced, live delivery never skips ahead.
TEST_F(OfflineHistoryTest, SyncDuringLiveTrafficLosesNothingAndNeverSkipsAhead) {
  auto alice = NewUser("alice");
  auto bob = NewUser("bob");
  auto a = ConnectReady(port(), alice.token);
  auto acks = SendBatch(*a, bob.id, 30, "pre");
  ASSERT_EQ(acks.size(), 30u);
  std::string conv = Str(acks[0], "conversation_id");
  std::set<std::string> want;
  for (auto& ack : acks) want.insert(Str(ack, "message_id"));
  std::mutex mu;
  std::atomic<bool> live_ok{true};

  auto b = ConnectReady(port(), bob.token);
  std::thread live([&] {
    for (int i = 0; i < 40; ++i) {
      auto ack = SendAndAck(*a, bob.id, "live-" + std::to_string(i), UniqueCmid());
      if (!ack || Op(*ack) != "ack") {
        live_ok = false;
        return;
      }
      std::lock_guard lock(mu);
      want.insert(Str(*ack, "message_id"));
    }
  });
  // Sync (following `more` pages) while the live sends run.
  std::vector<int64_t> seqs;        // message seqs in arrival order
  std::set<std::string> seen;
  size_t synced_at = 0;
  json::value cursor;
  for (int page = 0; page < 100; ++page) {
    json::object sync{{"op", "sync"}, {"id", "p" + std::to_string(page)}};
    if (!cursor.is_null()) sync["cursor"] = cursor;
    ASSERT_TRUE(b->SendJson(sync));
    std::vector<json::object> frames;
    auto synced = b->ReadUntil([](auto& f) { return Op(f) == "synced"; }, 10s, &frames);
    ASSERT_TRUE(synced);
    for (auto& m : MessagesOnly(frames)) {
      seqs.push_back(Int(m, "seq"));
      seen.insert(Str(m, "message_id"));
    }
    cursor = synced->contains("cursor") ? synced->at("cursor") : json::value();
    auto* more = synced->if_contains("more");
    if (!more || !more->is_bool() || !more->as_bool()) break;
  }
  synced_at = seqs.size();
  live.join();
  ASSERT_TRUE(live_ok);
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu);
      if (std::includes(seen.begin(), seen.end(), want.begin(), want.end())) break;
    }
    auto m = b->ReadOp("message", 5s);
    if (!m) break;
    if (Str(*m, "conversation_id") != conv) continue;
    seqs.push_back(Int(*m, "seq"));
    seen.insert(Str(*m, "message_id"));
  }
  EXPECT_TRUE(std::includes(seen.begin(), seen.end(), want.begin(), want.end()))
      << "saw " << seen.size() << " of " << want.size();
  // Up to `synced`, what arrived covers a contiguous range of seqs.
  std::set<int64_t> upto(seqs.begin(), seqs.begin() + synced_at);
  ASSERT_FALSE(upto.empty());
  EXPECT_EQ(*upto.rbegin() - *upto.begin() + 1, static_cast<int64_t>(upto.size()))
      << "gap in what was delivered before synced";
  // After it, each new seq is exactly the next one (repeats are tolerated).
  int64_t max_seen = *upto.rbegin();
  for (size_t i = synced_at; i < seqs.size(); ++i) {
    if (seqs[i] <= max_seen) continue;
    EXPECT_EQ(seqs[i], max_seen + 1) << "live delivery skipped ahead at frame " << i;
    max_seen = std::max(max_seen, seqs[i]);
  }
}

TEST_F(OfflineHistoryTest, HttpSyncReturnsPendingEventsThenTimesOutEmpty) {
  auto alice = NewUser("alice");
  auto bob = NewUser("bob");
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto res = http().Post("/v1/messages", SendFrame(bob.id, "poll-" + std::to_string(i), UniqueCmid()), alice.token);
    ASSERT_EQ(res.status, 201) << res.Describe();
    ids.push_back(Str(res.object(), "message_id"));
  }
  // Events exist: answered at once (the client gives up long before 30 s).
  auto first = http().Get("/v1/sync?timeout=30", bob.token);
  ASSERT_EQ(first.status, 200) << first.Describe();
  auto events = MessagesOnly(ToObjects(ArrayAt(first.object(), "events")));
  EXPECT_EQ(Ids(events), ids);
  auto* cursor = first.object().if_contains("cursor");
  ASSERT_TRUE(cursor) << first.body;

  auto empty = http().Get("/v1/sync?cursor=" + CursorParam(cursor) + "&timeout=1", bob.token);
  ASSERT_EQ(empty.status, 200) << empty.Describe();
  EXPECT_TRUE(ArrayAt(empty.object(), "events").empty()) << empty.body;
  EXPECT_TRUE(empty.object().contains("cursor")) << empty.body;
}

TEST_F(OfflineHistoryTest, HttpLongPollWakesWhenAMessageArrives) {
  auto alice = NewUser("alice");
  auto bob = NewUser("bob");
  auto start = http().Get("/v1/sync?timeout=1", bob.token);
  ASSERT_EQ(start.status, 200) << start.Describe();
  EXPECT_TRUE(ArrayAt(start.object(), "events").empty()) << start.body;
  auto* cursor = start.object().if_contains("cursor");
  ASSERT_TRUE(cursor) << start.body;
  std::string target = "/v1/sync?cursor=" + CursorParam(cursor) + "&timeout=20";

  std::atomic<bool> sent{false};
  HttpResponse polled;
  std::thread poller([&] {
    HttpClient client(port(), 30s);
    client.on_request_sent = [&] { sent = true; };
    polled = client.Get(target, bob.token);
  });
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!sent && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  auto res = http().Post("/v1/messages", SendFrame(bob.id, "wake up", UniqueCmid()), alice.token);
  poller.join();
  ASSERT_EQ(res.status, 201) << res.Describe();
  ASSERT_EQ(polled.status, 200) << polled.Describe();
  auto events = MessagesOnly(ToObjects(ArrayAt(polled.object(), "events")));
  ASSERT_EQ(events.size(), 1u) << polled.body;
  EXPECT_EQ(Str(events[0], "message_id"), Str(res.object(), "message_id"));
  EXPECT_EQ(Str(events[0], "content"), "wake up");
}

TEST_F(OfflineHistoryTest, WsHistoryPagesBackwardsInAscendingSeq) {
  auto alice = NewUser("alice");
  auto bob = NewUser("bob");
  auto a = ConnectReady(port(), alice.token);
  auto acks = SendBatch(*a, bob.id, 10, "h");
  ASSERT_EQ(acks.size(), 10u);
  std::string conv = Str(acks[0], "conversation_id");
  auto b = ConnectReady(port(), bob.token);
  auto page = [&](std::optional<int64_t> before, std::string id) {
    json::object f{{"op", "history"}, {"conversation_id", conv}, {"limit", 4}, {"id", id}};
    if (before) f["before_seq"] = *before;
    EXPECT_TRUE(b->SendJson(f));
    auto r = b->ReadUntil([&](auto& f) { return Str(f, "id") == id; }, 10s);
    EXPECT_TRUE(r && Op(*r) == "result") << (r ? Dump(*r) : "timeout");
    return r ? ToObjects(ArrayAt(*r, "messages")) : std::vector<json::object>{};
  };
  auto newest = page(std::nullopt, "p1");
  EXPECT_EQ(Seqs(newest), Seqs({acks.begin() + 6, acks.end()}));
  EXPECT_EQ(Ids(newest), Ids({acks.begin() + 6, acks.end()}));
  for (auto& m : newest) EXPECT_EQ(Op(m), "message") << Dump(m);
  auto older = page(Int(acks[6], "seq"), "p2");
  EXPECT_EQ(Seqs(older), Seqs({acks.begin() + 2, acks.begin() + 6}));
  auto oldest = MessagesOnly(page(Int(acks[2], "seq"), "p3"));
  EXPECT_EQ(Seqs(oldest), Seqs({acks.begin(), acks.begin() + 2}));
  if (!oldest.empty()) {
    EXPECT_EQ(Str(oldest[0], "content"), "h-0");
  }
}

TEST_F(OfflineHistoryTest, HistoryOfAForeignConversationIsForbidden) {
  auto alice = NewUser("alice");
  auto bob = NewUser("bob");
  auto mallory = NewUser("mallory");
  auto a = ConnectReady(port(), alice.token);
  auto ack = SendAndAck(*a, bob.id, "secret-payload", UniqueCmid());
  ASSERT_TRUE(ack && Op(*ack) == "ack");
  std::string conv = Str(*ack, "conversation_id");

  auto m = ConnectReady(port(), mallory.token);
  ASSERT_TRUE(m->SendJson({{"op", "history"}, {"conversation_id", conv}, {"id", "steal"}}));
  auto reply = m->ReadUntil([](auto& f) { return Str(f, "id") == "steal"; }, 10s);
  ASSERT_TRUE(reply);
  EXPECT_EQ(Op(*reply), "error") << Dump(*reply);
  EXPECT_EQ(Str(*reply, "code"), "forbidden") << Dump(*reply);
  EXPECT_EQ(json::serialize(*reply).find("secret-payload"), std::string::npos);
  EXPECT_TRUE(PingPong(*m));

  auto res = http().Get("/v1/conversations/" + conv + "/messages", mallory.token);
  EXPECT_EQ(res.status, 403) << res.Describe();
  EXPECT_EQ(res.ErrorCode(), "forbidden");
  EXPECT_EQ(res.body.find("secret-payload"), std::string::npos);
  auto unknown = http().Get("/v1/conversations/no-such-conversation/messages", mallory.token);
  EXPECT_TRUE(unknown.status == 403 || unknown.status == 404) << unknown.Describe();
}

TEST_F(OfflineHistoryTest, HttpHistoryPagingLimitsAndBounds) {
  auto alice = NewUser("alice");
  auto bob = NewUser("bob");
  auto a = ConnectReady(port(), alice.token);
  auto acks = SendBatch(*a, bob.id, 210, "p");
  ASSERT_EQ(acks.size(), 210u);
  std::string base = "/v1/conversations/" + Str(acks[0], "conversation_id") + "/messages";
  auto get = [&](std::string query) {
    auto res = http().Get(base + query, bob.token);
    EXPECT_EQ(res.status, 200) << query << ": " << res.Describe();
    return ToObjects(ArrayAt(res.object(), "messages"));
  };
  auto seqs = [&](size_t from, size_t to) { return Seqs({acks.begin() + from, acks.begin() + to}); };

  auto dflt = get("");
  EXPECT_EQ(Seqs(dflt), seqs(160, 210)) << "default: newest 50 ascending";
  ASSERT_FALSE(dflt.empty());
  EXPECT_EQ(Op(dflt.back()), "message");
  EXPECT_EQ(Str(dflt.back(), "content"), "p-209");
  EXPECT_EQ(Str(dflt.back(), "sender"), alice.id);
  EXPECT_EQ(Str(dflt.back(), "message_id"), Str(acks[209], "message_id"));
  EXPECT_EQ(Seqs(get("?limit=500")), seqs(10, 210)) << "limit clamps to 200";
  std::string s100 = std::to_string(Int(acks[100], "seq"));
  EXPECT_EQ(Seqs(get("?before_seq=" + s100 + "&limit=10")), seqs(90, 100));
  EXPECT_EQ(Seqs(get("?after_seq=" + s100 + "&limit=10")), seqs(101, 111));
  EXPECT_EQ(Seqs(get("?after_seq=" + std::to_string(Int(acks[204], "seq")))), seqs(205, 210));
  auto oldest = get("?after_seq=0&limit=5");
  EXPECT_EQ(oldest.size(), 5u);
  auto oldest_msgs = MessagesOnly(oldest);
  EXPECT_EQ(Seqs(oldest_msgs), seqs(0, oldest_msgs.size()));
  EXPECT_TRUE(MessagesOnly(get("?before_seq=" + std::to_string(Int(acks[0], "seq")))).empty());
  EXPECT_TRUE(get("?after_seq=" + std::to_string(Int(acks[209], "seq"))).empty());
}

bool HasMember(const json::object& conv, const std::string& user) {
  for (auto& m : ArrayAt(conv, "members")) {
    if (m.is_string() && m.as_string() == user) return true;
    if (m.is_object() && Str(m.as_object(), "user_id") == user) return true;
  }
  return false;
}

json::object FindConversation(HttpClient& http, const std::string& token, const std::string& id) {
  auto res = http.Get("/v1/conversations", token);
  EXPECT_EQ(res.status, 200) << res.Describe();
  for (auto& c : ToObjects(ArrayAt(res.object(), "conversations"))) {
    if (Str(c, "conversation_id") == id) return c;
  }
  ADD_FAILURE() << "conversation " << id << " not listed: " << res.body;
  return {};
}

TEST_F(OfflineHistoryTest, ConversationListShowsSeqsUnreadAndReceipts) {
  auto alice = NewUser("alice");
  auto bob = NewUser("bob");
  auto a = ConnectReady(port(), alice.token);
  auto acks = SendBatch(*a, bob.id, 3, "conv");
  ASSERT_EQ(acks.size(), 3u);
  std::string id = Str(acks[0], "conversation_id");
  int64_t last = Int(acks[2], "seq");

  auto bc = FindConversation(http(), bob.token, id);
  EXPECT_EQ(Str(bc, "kind"), "direct") << Dump(bc);
  EXPECT_TRUE(HasMember(bc, alice.id) && HasMember(bc, bob.id)) << Dump(bc);
  EXPECT_EQ(Int(bc, "last_seq"), last) << Dump(bc);
  EXPECT_EQ(Int(bc, "read_seq"), 0) << Dump(bc);
  EXPECT_EQ(Int(bc, "unread_count"), 3) << Dump(bc);
  EXPECT_EQ(Int(bc, "peer_delivered_seq"), 0) << Dump(bc);
  EXPECT_EQ(Int(bc, "peer_read_seq"), 0) << Dump(bc);
  auto preview = ObjectAt(bc, "last_message");
  EXPECT_EQ(Str(preview, "content"), "conv-2") << Dump(bc);
  auto ac = FindConversation(http(), alice.token, id);
  EXPECT_EQ(Int(ac, "unread_count"), 0) << "own messages are not unread: " << Dump(ac);

  // bob reads up to the second message over WS, acknowledges delivery of all over HTTP.
  auto b = ConnectReady(port(), bob.token);
  int64_t read_to = Int(acks[1], "seq");
  ASSERT_TRUE(b->SendJson({{"op", "receipt"}, {"conversation_id", id}, {"kind", "read"}, {"up_to_seq", read_to}}));
  auto rc = http().Post("/v1/conversations/" + id + "/receipts",
                        json::object{{"kind", "delivered"}, {"up_to_seq", last}}, bob.token);
  EXPECT_TRUE(rc.status >= 200 && rc.status < 300) << rc.Describe();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    ac = FindConversation(http(), alice.token, id);
    if (Int(ac, "peer_read_seq") == read_to && Int(ac, "peer_delivered_seq") == last) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(Int(ac, "peer_read_seq"), read_to) << Dump(ac);
  EXPECT_EQ(Int(ac, "peer_delivered_seq"), last) << Dump(ac);
  bc = FindConversation(http(), bob.token, id);
  EXPECT_EQ(Int(bc, "read_seq"), read_to) << Dump(bc);
  EXPECT_EQ(Int(bc, "unread_count"), 1) << Dump(bc);
}

}  // namespace
}  // namespace parley::testing
