// Receipts (SPEC §4, §5.5; docs/protocol.md "Receipts"): watermarks that
// never go back, read implies delivered, clamping, coalesced store writes,
// who gets them forwarded, durability across restarts and kill -9, replay by
// sync, the conversation list, the HTTP fallback and bad input.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "testing/helpers.h"

namespace parley::testing {
namespace {

using Clock = std::chrono::steady_clock;

class ReceiptsTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--send-rate", "100000", "--send-burst", "100000", "--receipt-flush-ms", "100"};
  }

  // alice sends `n` messages to bob; returns the conversation id.
  std::string Converse(const User& alice, const User& bob, int n) {
    auto a = ConnectReady(port(), alice.token);
    auto acks = SendBatch(*a, bob.id, n, "r");
    EXPECT_EQ(acks.size(), static_cast<size_t>(n));
    return acks.empty() ? "" : Str(acks[0], "conversation_id");
  }
};

json::object ReceiptFrame(const std::string& conv, std::string_view kind, json::value up_to,
                          std::string_view id = {}) {
  json::object f{{"op", "receipt"}, {"conversation_id", conv}, {"kind", kind}, {"up_to_seq", up_to}};
  if (!id.empty()) f["id"] = id;
  return f;
}

bool IsReceipt(const json::object& f, const std::string& conv, const std::string& user,
               std::string_view kind, int64_t up_to) {
  return Op(f) == "receipt" && Str(f, "conversation_id") == conv && Str(f, "user_id") == user &&
         Str(f, "kind") == kind && Int(f, "up_to_seq") == up_to;
}

// Waits for the pair of receipt frames (delivered, read) of `user` in `conv`
// with these watermarks. Every receipt frame seen on the way goes to *seen.
bool WaitReceiptPair(WsClient& ws, const std::string& conv, const std::string& user,
                     int64_t delivered, int64_t read, std::vector<json::object>* seen = nullptr,
                     std::chrono::milliseconds timeout = 10s) {
  bool got_d = false, got_r = false;
  auto deadline = Clock::now() + timeout;
  while (!(got_d && got_r) && Clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto f = ws.ReadFrame(left);
    if (!f) break;
    if (Op(*f) == "receipt" && seen) seen->push_back(*f);
    got_d = got_d || IsReceipt(*f, conv, user, "delivered", delivered);
    got_r = got_r || IsReceipt(*f, conv, user, "read", read);
  }
  return got_d && got_r;
}

// True if no receipt frame for `conv` arrives within `d` (other frames are
// ignored); the offending frame goes to *got.
bool NoReceiptFor(WsClient& ws, const std::string& conv, std::chrono::milliseconds d,
                  json::object* got = nullptr) {
  auto deadline = Clock::now() + d;
  while (Clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto f = ws.ReadFrame(left);
    if (!f) return true;
    if (Op(*f) == "receipt" && Str(*f, "conversation_id") == conv) {
      if (got) *got = *f;
      return false;
    }
  }
  return true;
}

TEST_F(ReceiptsTest, WatermarksNeverGoBackAndReadImpliesDelivered) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string conv = Converse(alice, bob, 5);
  ASSERT_FALSE(conv.empty());
  auto a = ConnectReady(port(), alice.token);
  auto b1 = ConnectReady(port(), bob.token);
  auto b2 = ConnectReady(port(), bob.token);

  // read 3, with no delivered receipt before: both watermarks become 3.
  ASSERT_TRUE(b1->SendJson(ReceiptFrame(conv, "read", 3, "r1")));
  EXPECT_TRUE(WaitReceiptPair(*a, conv, bob.id, 3, 3)) << "peer did not get delivered=3/read=3";
  EXPECT_TRUE(WaitReceiptPair(*b2, conv, bob.id, 3, 3)) << "reader's other session";
  // A lower watermark is ignored without an error...
  ASSERT_TRUE(b1->SendJson(ReceiptFrame(conv, "read", 2, "low")));
  ASSERT_TRUE(b1->SendJson(ReceiptFrame(conv, "delivered", 1, "lowd")));
  // ...and the next change still carries read=3.
  ASSERT_TRUE(b1->SendJson(ReceiptFrame(conv, "delivered", 5, "r2")));
  std::vector<json::object> seen;
  EXPECT_TRUE(WaitReceiptPair(*a, conv, bob.id, 5, 3, &seen)) << "expected delivered=5 read=3";
  for (auto& f : seen) {
    EXPECT_GE(Int(f, "up_to_seq"), 3) << "a watermark went back: " << Dump(f);
  }
  std::vector<json::object> own;
  ASSERT_TRUE(b1->ReadUntil([&](auto& f) { return IsReceipt(f, conv, bob.id, "delivered", 5); }, 10s, &own));
  for (auto& f : own) EXPECT_NE(Op(f), "error") << "lower watermark answered with " << Dump(f);

  auto peer = FindConversation(http(), alice.token, conv);
  ASSERT_TRUE(peer);
  EXPECT_EQ(Int(*peer, "peer_delivered_seq"), 5);
  EXPECT_EQ(Int(*peer, "peer_read_seq"), 3);
  auto mine = FindConversation(http(), bob.token, conv);
  ASSERT_TRUE(mine);
  EXPECT_EQ(Int(*mine, "read_seq"), 3);
  EXPECT_EQ(Int(*mine, "unread_count"), 2);
  EXPECT_EQ(Int(*mine, "peer_read_seq"), 0) << "alice sent no receipt";

  // read 4 raises read only; delivered stays 5.
  ASSERT_TRUE(b1->SendJson(ReceiptFrame(conv, "read", 4)));
  EXPECT_TRUE(WaitReceiptPair(*a, conv, bob.id, 5, 4));
  // An unchanged watermark is not forwarded again.
  ASSERT_TRUE(b1->SendJson(ReceiptFrame(conv, "read", 4)));
  json::object got;
  EXPECT_TRUE(NoReceiptFor(*a, conv, 600ms, &got)) << "re-forwarded an unchanged watermark: " << Dump(got);
}

TEST_F(ReceiptsTest, UpToSeqBeyondLastSeqIsClamped) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string conv = Converse(alice, bob, 3);
  ASSERT_FALSE(conv.empty());
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  ASSERT_TRUE(b->SendJson(ReceiptFrame(conv, "read", 1000)));
  EXPECT_TRUE(WaitReceiptPair(*a, conv, bob.id, 3, 3)) << "up_to_seq 1000 should be clamped to 3";
  auto mine = FindConversation(http(), bob.token, conv);
  ASSERT_TRUE(mine);
  EXPECT_EQ(Int(*mine, "read_seq"), 3);
  EXPECT_EQ(Int(*mine, "unread_count"), 0);
  // A new message is unread: the stored watermark was 3, not 1000.
  auto more = SendAndAck(*a, bob.id, "new", UniqueCmid());
  ASSERT_TRUE(more && Int(*more, "seq") == 4);
  mine = FindConversation(http(), bob.token, conv);
  ASSERT_TRUE(mine);
  EXPECT_EQ(Int(*mine, "unread_count"), 1);
  EXPECT_EQ(Int(*mine, "read_seq"), 3);
  auto res = http().Post("/v1/conversations/" + conv + "/receipts",
                         json::object{{"kind", "delivered"}, {"up_to_seq", 1'000'000}}, bob.token);
  EXPECT_EQ(res.status, 204) << res.Describe();
  EXPECT_TRUE(WaitReceiptPair(*a, conv, bob.id, 4, 3));
}

TEST_F(ReceiptsTest, ForwardedToGroupMembersButNeverToChannelMembers) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  std::string g = CreateGroup(http(), alice.token, "rg", {bob.id, carol.id});
  std::string c = CreateGroup(http(), alice.token, "rc", {bob.id, carol.id}, "channel");
  ASSERT_FALSE(g.empty() || c.empty());
  auto a = ConnectReady(port(), alice.token);
  for (auto* conv : {&g, &c}) {
    for (int i = 0; i < 2; ++i) {
      auto ack = SendToConversation(*a, *conv, "m" + std::to_string(i), UniqueCmid());
      ASSERT_TRUE(ack && Op(*ack) == "ack");
    }
  }
  auto c1 = ConnectReady(port(), carol.token);
  auto b1 = ConnectReady(port(), bob.token);
  auto b2 = ConnectReady(port(), bob.token);
  ASSERT_TRUE(b1->SendJson(ReceiptFrame(g, "read", 3)));
  EXPECT_TRUE(WaitReceiptPair(*a, g, bob.id, 3, 3)) << "group admin";
  EXPECT_TRUE(WaitReceiptPair(*c1, g, bob.id, 3, 3)) << "group member";
  EXPECT_TRUE(WaitReceiptPair(*b2, g, bob.id, 3, 3)) << "reader's other session";

  ASSERT_TRUE(b1->SendJson(ReceiptFrame(c, "read", 3)));
  EXPECT_TRUE(WaitReceiptPair(*b2, c, bob.id, 3, 3)) << "the reader's own sessions always get it";
  json::object got;
  EXPECT_TRUE(NoReceiptFor(*a, c, 700ms, &got)) << "channel receipt forwarded to admin: " << Dump(got);
  EXPECT_TRUE(NoReceiptFor(*c1, c, 300ms, &got)) << "channel receipt forwarded to member: " << Dump(got);

  // Sync replays with the same visibility.
  auto alice_sync = HttpSyncAll(http(), alice.token);
  int group_receipts = 0;
  for (auto& f : alice_sync) {
    if (Op(f) != "receipt") continue;
    EXPECT_NE(Str(f, "conversation_id"), c) << "channel receipt in alice's sync: " << Dump(f);
    group_receipts += Str(f, "conversation_id") == g && Str(f, "user_id") == bob.id;
  }
  EXPECT_EQ(group_receipts, 2) << "bob's group watermarks (delivered, read) in alice's sync";
  bool own = false;
  for (auto& f : HttpSyncAll(http(), bob.token)) own = own || IsReceipt(f, c, bob.id, "read", 3);
  EXPECT_TRUE(own) << "bob's own channel receipt is missing from his sync";
  auto bc = FindConversation(http(), bob.token, c);
  ASSERT_TRUE(bc);
  EXPECT_EQ(Int(*bc, "read_seq"), 3);
  EXPECT_EQ(Int(*bc, "unread_count"), 0);
}

TEST_F(ReceiptsTest, SurviveGracefulRestartAndAreReplayedBySync) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string conv = Converse(alice, bob, 4);
  ASSERT_FALSE(conv.empty());
  std::string cursor;
  HttpSyncAll(http(), alice.token, "", &cursor);
  ASSERT_FALSE(cursor.empty());
  // Recorded, then SIGTERM before or after the flush: either way it is kept.
  auto res = http().Post("/v1/conversations/" + conv + "/receipts",
                         json::object{{"kind", "read"}, {"up_to_seq", 3}}, bob.token);
  ASSERT_EQ(res.status, 204) << res.Describe();
  EXPECT_TRUE(res.body.empty()) << res.body;
  ASSERT_TRUE(RestartServer()) << server_->error();
  auto mine = FindConversation(http(), bob.token, conv);
  ASSERT_TRUE(mine);
  EXPECT_EQ(Int(*mine, "read_seq"), 3);
  EXPECT_EQ(Int(*mine, "unread_count"), 1);
  auto peer = FindConversation(http(), alice.token, conv);
  ASSERT_TRUE(peer);
  EXPECT_EQ(Int(*peer, "peer_read_seq"), 3);
  EXPECT_EQ(Int(*peer, "peer_delivered_seq"), 3);
  // Sync from the old cursor replays the changed watermarks, over HTTP and WS.
  auto replay = HttpSyncAll(http(), alice.token, cursor);
  bool d = false, r = false;
  for (auto& f : replay) {
    d = d || IsReceipt(f, conv, bob.id, "delivered", 3);
    r = r || IsReceipt(f, conv, bob.id, "read", 3);
  }
  EXPECT_TRUE(d && r) << "HTTP sync from the old cursor lacks bob's receipts";
  auto a = ConnectReady(port(), alice.token);
  json::value wcursor(cursor);
  auto frames = WsSyncAll(*a, &wcursor);
  d = r = false;
  for (auto& f : frames) {
    d = d || IsReceipt(f, conv, bob.id, "delivered", 3);
    r = r || IsReceipt(f, conv, bob.id, "read", 3);
  }
  EXPECT_TRUE(d && r) << "WS sync from the old cursor lacks bob's receipts";
}

// A waiting long-poll (GET /v1/sync, the web client's fallback) answers when a receipt
// arrives, not only at its timeout: receipts are events that sync returns.
TEST_F(ReceiptsTest, HttpLongPollWakesWhenAReceiptArrives) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string conv = Converse(alice, bob, 2);
  ASSERT_FALSE(conv.empty());
  std::string cursor;
  HttpSyncAll(http(), alice.token, "", &cursor);
  ASSERT_FALSE(cursor.empty());

  // The poll may wait 60 s; the client gives up after 30 s, so only a wake-up answers it.
  std::atomic<bool> sent{false};
  HttpResponse polled;
  std::thread poller([&] {
    HttpClient client(port(), 30s);
    client.on_request_sent = [&] { sent = true; };
    polled = client.Get("/v1/sync?cursor=" + cursor + "&timeout=60", alice.token);
  });
  auto deadline = Clock::now() + 5s;
  while (!sent && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  auto res = http().Post("/v1/conversations/" + conv + "/receipts",
                         json::object{{"kind", "read"}, {"up_to_seq", 2}}, bob.token);
  poller.join();
  ASSERT_EQ(res.status, 204) << res.Describe();
  ASSERT_EQ(polled.status, 200) << "the long-poll was not woken: " << polled.Describe();
  bool d = false, r = false;
  for (auto& f : ToObjects(ArrayAt(polled.object(), "events"))) {
    d = d || IsReceipt(f, conv, bob.id, "delivered", 2);
    r = r || IsReceipt(f, conv, bob.id, "read", 2);
  }
  EXPECT_TRUE(d && r) << polled.body;
}

TEST_F(ReceiptsTest, SurviveKill9OnceFlushed) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string conv = Converse(alice, bob, 4);
  ASSERT_FALSE(conv.empty());
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  ASSERT_TRUE(b->SendJson(ReceiptFrame(conv, "delivered", 4)));
  ASSERT_TRUE(b->SendJson(ReceiptFrame(conv, "read", 2)));
  // Forwarding happens after the store write, so seeing it means it is flushed.
  ASSERT_TRUE(WaitReceiptPair(*a, conv, bob.id, 4, 2));
  a.reset();
  b.reset();
  server_->Kill9();
  ASSERT_TRUE(RestartServer()) << server_->error();
  auto peer = FindConversation(http(), alice.token, conv);
  ASSERT_TRUE(peer);
  EXPECT_EQ(Int(*peer, "peer_delivered_seq"), 4);
  EXPECT_EQ(Int(*peer, "peer_read_seq"), 2);
  auto mine = FindConversation(http(), bob.token, conv);
  ASSERT_TRUE(mine);
  EXPECT_EQ(Int(*mine, "read_seq"), 2);
  EXPECT_EQ(Int(*mine, "unread_count"), 2);
}

TEST_F(ReceiptsTest, HttpFallbackAndBadInput) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol");
  std::string conv = Converse(alice, bob, 3);
  ASSERT_FALSE(conv.empty());
  auto a = ConnectReady(port(), alice.token);
  std::string route = "/v1/conversations/" + conv + "/receipts";
  auto ok = http().Post(route, json::object{{"kind", "read"}, {"up_to_seq", 2}}, bob.token);
  EXPECT_EQ(ok.status, 204) << ok.Describe();
  EXPECT_TRUE(WaitReceiptPair(*a, conv, bob.id, 2, 2));

  auto expect = [&](const std::string& target, const std::string& token, const json::value& body,
                    int status, const char* code) {
    auto res = http().Post(target, body, token);
    EXPECT_EQ(res.status, status) << Dump(body) << ": " << res.Describe();
    EXPECT_EQ(res.ErrorCode(), code) << Dump(body);
  };
  expect(route, bob.token, json::object{{"kind", "seen"}, {"up_to_seq", 3}}, 400, "bad_request");
  expect(route, bob.token, json::object{{"up_to_seq", 3}}, 400, "bad_request");
  expect(route, bob.token, json::object{{"kind", "read"}, {"up_to_seq", -1}}, 400, "bad_request");
  expect(route, bob.token, json::object{{"kind", "read"}, {"up_to_seq", 2.5}}, 400, "bad_request");
  expect(route, bob.token, json::object{{"kind", "read"}, {"up_to_seq", "3"}}, 400, "bad_request");
  expect(route, bob.token, json::object{{"kind", "read"}}, 400, "bad_request");
  expect(route, carol.token, json::object{{"kind", "read"}, {"up_to_seq", 1}}, 403, "forbidden");
  expect("/v1/conversations/g:424242/receipts", bob.token, json::object{{"kind", "read"}, {"up_to_seq", 1}}, 403, "forbidden");
  auto bad_json = http().Request("POST", route, "{not json", bob.token);
  EXPECT_EQ(bad_json.status, 400) << bad_json.Describe();

  // The same over WebSocket: an error frame echoing the id; the socket stays usable.
  auto b = ConnectReady(port(), bob.token);
  auto c = ConnectReady(port(), carol.token);
  auto ws_expect = [&](WsClient& ws, const json::object& frame, const char* code) {
    ASSERT_TRUE(ws.SendJson(frame));
    auto err = ws.ReadUntil([](auto& f) { return Op(f) == "error"; }, 5s);
    ASSERT_TRUE(err) << "no error for " << Dump(frame);
    EXPECT_EQ(Str(*err, "code"), code) << Dump(frame) << " -> " << Dump(*err);
    EXPECT_EQ(Str(*err, "id"), Str(frame, "id")) << Dump(*err);
    EXPECT_TRUE(PingPong(ws)) << "socket unusable after " << Dump(frame);
  };
  ws_expect(*c, ReceiptFrame(conv, "read", 1, "nm"), "forbidden");
  ws_expect(*b, ReceiptFrame("g:424242", "read", 1, "unknown"), "forbidden");
  ws_expect(*b, ReceiptFrame(conv, "read", -3, "neg"), "bad_request");
  ws_expect(*b, ReceiptFrame(conv, "read", 1.5, "frac"), "bad_request");
  ws_expect(*b, ReceiptFrame(conv, "read", "3", "str"), "bad_request");
  ws_expect(*b, ReceiptFrame(conv, "seen", 3, "kind"), "bad_request");
  ws_expect(*b, json::object{{"op", "receipt"}, {"conversation_id", conv}, {"kind", "read"}, {"id", "missing"}}, "bad_request");
  // None of it moved the watermark.
  json::object got;
  EXPECT_TRUE(NoReceiptFor(*a, conv, 500ms, &got)) << Dump(got);
  auto peer = FindConversation(http(), alice.token, conv);
  ASSERT_TRUE(peer);
  EXPECT_EQ(Int(*peer, "peer_read_seq"), 2);
}

// SPEC §5.5: at most one store write per (user, conversation) per flush
// interval, whatever the number of frames. A long interval makes the bound
// independent of how fast the frames go out.
class ReceiptCoalescingTest : public ReceiptsTest {
 protected:
  static constexpr int kFlushMs = 3000;
  std::vector<std::string> ExtraArgs() override {
    return {"--send-rate", "100000", "--send-burst", "100000", "--receipt-flush-ms", std::to_string(kFlushMs)};
  }
};

TEST_F(ReceiptCoalescingTest, TenThousandFramesMakeAtMostTwoStoreWrites) {
  auto alice = NewUser("alice"), bob = NewUser("bob");
  std::string conv = Converse(alice, bob, 50);
  ASSERT_FALSE(conv.empty());
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  auto writes0 = MetricOnAllNodes("parley_receipt_store_writes_total");
  auto frames0 = MetricOnAllNodes("parley_receipt_frames_total");
  ASSERT_TRUE(writes0 && frames0) << "receipt metrics missing";
  constexpr int kFrames = 10'000;
  for (int i = 0; i < kFrames; ++i) {
    int64_t up_to = std::min<int64_t>(50, 1 + static_cast<int64_t>(i) * 50 / (kFrames - 2));
    ASSERT_TRUE(b->SendJson(ReceiptFrame(conv, i % 2 ? "read" : "delivered", up_to))) << i << b->error();
  }
  // The peer ends up with the final watermarks.
  std::vector<json::object> seen;
  EXPECT_TRUE(WaitReceiptPair(*a, conv, bob.id, 50, 50, &seen, std::chrono::milliseconds(3 * kFlushMs + 10'000)))
      << "final watermark never forwarded";
  EXPECT_LE(seen.size(), 4u) << "more forwarded receipt frames than store writes allow";
  // Every frame was taken in...
  double frames = 0;
  auto deadline = Clock::now() + 20s;
  while (Clock::now() < deadline) {
    frames = MetricOnAllNodes("parley_receipt_frames_total").value_or(0) - *frames0;
    if (frames >= kFrames) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_GE(frames, kFrames);
  // ...and after one more flush interval, at most two writes happened.
  std::this_thread::sleep_for(std::chrono::milliseconds(kFlushMs + 500));
  double writes = MetricOnAllNodes("parley_receipt_store_writes_total").value_or(-1) - *writes0;
  EXPECT_GE(writes, 1);
  EXPECT_LE(writes, 2) << "10,000 receipt frames made " << writes << " store writes";
  auto peer = FindConversation(http(), alice.token, conv);
  ASSERT_TRUE(peer);
  EXPECT_EQ(Int(*peer, "peer_read_seq"), 50);
  EXPECT_EQ(Int(*peer, "peer_delivered_seq"), 50);
}

// Groups above --receipt-fanout-limit forward receipts only to the reader's
// own sessions; smaller ones to every member.
class ReceiptFanoutLimitTest : public ReceiptsTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--receipt-flush-ms", "100", "--receipt-fanout-limit", "3"};
  }
};

TEST_F(ReceiptFanoutLimitTest, LargeGroupsKeepReceiptsToTheReader) {
  auto alice = NewUser("alice"), bob = NewUser("bob"), carol = NewUser("carol"), dave = NewUser("dave");
  std::string small = CreateGroup(http(), alice.token, "three", {bob.id, carol.id});
  std::string large = CreateGroup(http(), alice.token, "four", {bob.id, carol.id, dave.id});
  ASSERT_FALSE(small.empty() || large.empty());
  auto a = ConnectReady(port(), alice.token);
  auto b1 = ConnectReady(port(), bob.token);
  auto b2 = ConnectReady(port(), bob.token);
  ASSERT_TRUE(b1->SendJson(ReceiptFrame(small, "read", 1)));
  EXPECT_TRUE(WaitReceiptPair(*a, small, bob.id, 1, 1)) << "3 members: within the limit";
  ASSERT_TRUE(b1->SendJson(ReceiptFrame(large, "read", 1)));
  EXPECT_TRUE(WaitReceiptPair(*b2, large, bob.id, 1, 1)) << "the reader's own sessions";
  json::object got;
  EXPECT_TRUE(NoReceiptFor(*a, large, 700ms, &got)) << "4 members > limit 3, yet forwarded: " << Dump(got);
  bool leaked = false;
  for (auto& f : HttpSyncAll(http(), alice.token)) leaked = leaked || (Op(f) == "receipt" && Str(f, "conversation_id") == large);
  EXPECT_FALSE(leaked) << "sync replays a large group's receipts to other members";
}

}  // namespace
}  // namespace parley::testing
