// Unit tests of the bench's own machinery: the histogram against known
// distributions, the checker against synthetic streams with injected loss,
// duplicates and reordering, the frame reader, the WebSocket codec and the
// placement of connections on the nodes of a cluster.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "checker.h"
#include "flat_json.h"
#include "histogram.h"
#include "placement.h"
#include "ws_codec.h"

namespace parley::bench {
namespace {

// ---------------------------------------------------------------- histogram

// Exact percentile by the same definition (smallest v with >= p % at or below).
uint64_t Exact(std::vector<uint64_t> v, double p) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * v.size()));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.Percentile(50), 50u);
  EXPECT_EQ(h.Percentile(90), 90u);
  EXPECT_EQ(h.Percentile(99), 99u);
  EXPECT_EQ(h.Percentile(100), 100u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(Histogram, BucketsAreContiguousAndTight) {
  for (size_t i = 1; i < Histogram::kBuckets; ++i) {
    ASSERT_EQ(Histogram::BucketLow(i), Histogram::BucketHigh(i - 1) + 1) << i;
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = rng() >> (rng() % 64);
    const size_t idx = Histogram::IndexOf(v);
    ASSERT_LE(Histogram::BucketLow(idx), v);
    ASSERT_GE(Histogram::BucketHigh(idx), v);
    const double width = static_cast<double>(Histogram::BucketHigh(idx) - Histogram::BucketLow(idx) + 1);
    if (v < Histogram::kSub) {
      ASSERT_EQ(width, 1.0);  // exact
    } else {
      ASSERT_LE(width / static_cast<double>(v), 1.0 / 128);
    }
  }
  EXPECT_EQ(Histogram::IndexOf(UINT64_MAX), Histogram::kBuckets - 1);
}

void ExpectClose(const Histogram& h, const std::vector<uint64_t>& values) {
  for (double p : {1.0, 10.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const double exact = static_cast<double>(Exact(values, p));
    const double got = static_cast<double>(h.Percentile(p));
    EXPECT_NEAR(got, exact, exact * 0.01 + 1) << "p" << p;
  }
}

TEST(Histogram, UniformDistribution) {
  Histogram h;
  std::vector<uint64_t> values;
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<uint64_t> d(1000, 10'000'000);
  for (int i = 0; i < 200000; ++i) {
    values.push_back(d(rng));
    h.Record(values.back());
  }
  ExpectClose(h, values);
  // Uniform: the median is near the middle of the range.
  EXPECT_NEAR(static_cast<double>(h.Percentile(50)), 5'000'500.0, 5'000'500.0 * 0.02);
}

TEST(Histogram, ExponentialAndLogNormal) {
  std::mt19937_64 rng(2);
  {
    Histogram h;
    std::vector<uint64_t> values;
    std::exponential_distribution<double> d(1.0 / 250'000);  // mean 250 us in ns
    for (int i = 0; i < 200000; ++i) {
      values.push_back(static_cast<uint64_t>(d(rng)));
      h.Record(values.back());
    }
    ExpectClose(h, values);
    // Exponential: p50 = mean * ln 2, p99 = mean * ln 100.
    EXPECT_NEAR(h.Percentile(50) / 250'000.0, std::log(2.0), 0.02);
    EXPECT_NEAR(h.Percentile(99) / 250'000.0, std::log(100.0), 0.1);
  }
  {
    Histogram h;
    std::vector<uint64_t> values;
    std::lognormal_distribution<double> d(13, 1.5);
    for (int i = 0; i < 200000; ++i) {
      values.push_back(static_cast<uint64_t>(d(rng)));
      h.Record(values.back());
    }
    ExpectClose(h, values);
  }
}

TEST(Histogram, MergeAndReset) {
  Histogram a, b;
  for (int i = 0; i < 1000; ++i) a.Record(1000);
  for (int i = 0; i < 1000; ++i) b.Record(3000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 2000u);
  EXPECT_NEAR(static_cast<double>(a.Percentile(50)), 1000, 10);
  EXPECT_NEAR(static_cast<double>(a.Percentile(51)), 3000, 30);
  EXPECT_EQ(a.min(), 1000u);
  EXPECT_EQ(a.max(), 3000u);
  a.Reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.Percentile(50), 0u);
}

// ---------------------------------------------------------------- checker

// A conversation of two members: A sends 1..n (conversation seq == sender
// seq), every one acked; B receives `delivered` in that order.
struct Verdicts {
  CheckTotals totals;
};

CheckTotals RunPair(uint64_t n, const std::vector<uint64_t>& delivered) {
  MemberLedger a(2), b(2);
  for (uint64_t s = 1; s <= n; ++s) a.OnAck(s);
  for (uint64_t s : delivered) b.OnMessage(s, 0, s);
  MemberLedger* members[] = {&a, &b};
  FinalizeConversation(members);
  CheckTotals t;
  t.Add(a);
  t.Add(b);
  return t;
}

std::vector<uint64_t> Iota(uint64_t n) {
  std::vector<uint64_t> v;
  for (uint64_t i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

TEST(Checker, CleanStream) {
  const auto t = RunPair(1000, Iota(1000));
  EXPECT_TRUE(t.clean());
  EXPECT_EQ(t.delivered, 1000u);
}

TEST(Checker, ReportsExactlyTheInjectedLoss) {
  auto v = Iota(1000);
  std::erase_if(v, [](uint64_t s) { return s == 5 || s == 17 || s == 1000; });
  const auto t = RunPair(1000, v);
  EXPECT_EQ(t.lost, 3u);
  EXPECT_EQ(t.duplicates, 0u);
  EXPECT_EQ(t.out_of_order, 0u);
  EXPECT_EQ(t.sender_order, 0u);
  EXPECT_EQ(t.delivered, 997u);
}

TEST(Checker, ReportsExactlyTheInjectedDuplicates) {
  auto v = Iota(1000);
  v.insert(v.begin() + 31, 30);   // 30 again right after itself
  v.insert(v.begin() + 501, 10);  // an old one much later
  v.push_back(1000);
  const auto t = RunPair(1000, v);
  EXPECT_EQ(t.duplicates, 3u);
  EXPECT_EQ(t.lost, 0u);
  EXPECT_EQ(t.out_of_order, 0u);
  EXPECT_EQ(t.sender_order, 0u);
  EXPECT_EQ(t.delivered, 1000u);
}

TEST(Checker, ReportsExactlyTheInjectedReordering) {
  auto v = Iota(1000);
  std::swap(v[99], v[100]);                 // 101 before 100: one late item
  auto it = std::find(v.begin(), v.end(), 200);
  v.erase(it);
  v.insert(std::find(v.begin(), v.end(), 210) + 1, 200);  // 200 arrives after 210
  const auto t = RunPair(1000, v);
  EXPECT_EQ(t.out_of_order, 2u);
  EXPECT_EQ(t.sender_order, 2u);
  EXPECT_EQ(t.lost, 0u);
  EXPECT_EQ(t.duplicates, 0u);
  EXPECT_EQ(t.delivered, 1000u);
}

TEST(Checker, AllFaultsTogether) {
  std::mt19937_64 rng(3);
  auto v = Iota(5000);
  // 10 losses, then 7 duplicates placed right after their original, then 4 adjacent swaps, all disjoint.
  std::vector<uint64_t> lost = {11, 222, 333, 1444, 2555, 2666, 3777, 4000, 4500, 4999};
  std::erase_if(v, [&](uint64_t s) { return std::count(lost.begin(), lost.end(), s) > 0; });
  for (uint64_t d : {50, 60, 70, 80, 90, 1200, 3000}) {
    v.insert(std::find(v.begin(), v.end(), static_cast<uint64_t>(d)) + 1, d);
  }
  for (uint64_t s : {1000, 2000, 3500, 4200}) {
    auto p = std::find(v.begin(), v.end(), s);
    std::iter_swap(p, p + 1);
  }
  const auto t = RunPair(5000, v);
  EXPECT_EQ(t.lost, 10u);
  EXPECT_EQ(t.duplicates, 7u);
  EXPECT_EQ(t.out_of_order, 4u);
  EXPECT_EQ(t.delivered, 4990u);
}

TEST(Checker, GroupLossIsPerReceiverAndExcludesOwnMessages) {
  // Three members; each sends, the conversation seqs interleave.
  MemberLedger m[3] = {MemberLedger(3), MemberLedger(3), MemberLedger(3)};
  uint64_t seq = 0, sender_seq[3] = {0, 0, 0};
  struct Sent {
    uint64_t seq;
    uint32_t sender;
    uint64_t sender_seq;
  };
  std::vector<Sent> sent;
  for (int i = 0; i < 300; ++i) {
    const uint32_t s = static_cast<uint32_t>(i % 3);
    sent.push_back({++seq, s, ++sender_seq[s]});
    m[s].OnAck(seq);
  }
  for (uint32_t r = 0; r < 3; ++r) {
    for (const Sent& x : sent) {
      if (x.sender == r) continue;
      if (r == 2 && (x.seq == 7 || x.seq == 8)) continue;  // member 2 misses two
      m[r].OnMessage(x.seq, x.sender, x.sender_seq);
    }
  }
  MemberLedger* members[] = {&m[0], &m[1], &m[2]};
  EXPECT_EQ(FinalizeConversation(members), 2u);
  EXPECT_EQ(m[0].lost(), 0u);
  EXPECT_EQ(m[1].lost(), 0u);
  EXPECT_EQ(m[2].lost(), 2u);
  CheckTotals t;
  for (auto& x : m) t.Add(x);
  EXPECT_EQ(t.out_of_order, 0u);
  EXPECT_EQ(t.sender_order, 0u);
  EXPECT_EQ(t.delivered, 598u);
}

TEST(Checker, SenderOrderViolationWithoutSeqViolation) {
  // The server assigned seqs in order but a sender's own numbering went back:
  // sender 0's message 2 got seq 1 and its message 1 got seq 2.
  MemberLedger a(2), b(2);
  a.OnAck(1);
  a.OnAck(2);
  b.OnMessage(1, 0, 2);
  b.OnMessage(2, 0, 1);
  MemberLedger* members[] = {&a, &b};
  FinalizeConversation(members);
  CheckTotals t;
  t.Add(a);
  t.Add(b);
  EXPECT_EQ(t.out_of_order, 0u);
  EXPECT_EQ(t.sender_order, 1u);
  EXPECT_EQ(t.lost, 0u);
}

TEST(Checker, ReconnectReplayIsRedeliveryNotDuplicate) {
  MemberLedger a(2), b(2);
  for (uint64_t s = 1; s <= 20; ++s) a.OnAck(s);
  for (uint64_t s = 1; s <= 10; ++s) b.OnMessage(s, 0, s);
  b.NewSession();  // reconnect; sync replays from an older cursor
  for (uint64_t s = 5; s <= 20; ++s) b.OnMessage(s, 0, s);
  b.OnMessage(20, 0, 20);  // a real duplicate within the new session
  MemberLedger* members[] = {&a, &b};
  FinalizeConversation(members);
  CheckTotals t;
  t.Add(a);
  t.Add(b);
  EXPECT_EQ(t.redelivered, 6u);
  EXPECT_EQ(t.duplicates, 1u);
  EXPECT_EQ(t.out_of_order, 0u);
  EXPECT_EQ(t.lost, 0u);
  EXPECT_EQ(t.delivered, 20u);
}

TEST(Checker, EventsTakeSeqsButAreNotMessages) {
  MemberLedger a(2), b(2);
  b.OnEvent(1);  // "created"
  a.OnAck(2);
  a.OnAck(3);
  b.OnMessage(2, 0, 1);
  b.OnMessage(3, 0, 2);
  b.OnEvent(2);  // an event repeating a seq is a duplicate
  MemberLedger* members[] = {&a, &b};
  FinalizeConversation(members);
  CheckTotals t;
  t.Add(a);
  t.Add(b);
  EXPECT_EQ(t.delivered, 2u);
  EXPECT_EQ(t.duplicates, 1u);
  EXPECT_EQ(t.lost, 0u);
}

TEST(SeqSet, CountMissing) {
  SeqSet e, g, x;
  for (uint64_t i = 0; i < 1000; ++i) e.Insert(i);
  for (uint64_t i = 0; i < 1000; i += 2) g.Insert(i);
  for (uint64_t i = 1; i < 1000; i += 4) x.Insert(i);
  EXPECT_EQ(CountMissing(e, g, x), 250u);
  EXPECT_FALSE(g.Insert(0));
  EXPECT_EQ(g.Count(), 500u);
}

// ---------------------------------------------------------------- frames

TEST(FlatJson, ReadsServerFrames) {
  FlatJson j;
  ASSERT_TRUE(j.Parse(R"({"op":"message","conversation_id":"d:a:b","seq":42,"message_id":"3848941",)"
                      R"("sender":"alice","ts":1795833115924,"type":"text","content":"1.0.7.99.xx","client_msg_id":"c2",)"
                      R"("extra":{"a":[1,2,{"b":"}"}]},"flag":true})"));
  EXPECT_EQ(j.Get("op"), "message");
  EXPECT_EQ(j.Get("conversation_id"), "d:a:b");
  uint64_t seq = 0, id = 0;
  EXPECT_TRUE(j.GetU64("seq", seq));
  EXPECT_EQ(seq, 42u);
  EXPECT_TRUE(j.GetU64("message_id", id));
  EXPECT_EQ(id, 3848941u);
  EXPECT_EQ(j.Get("content"), "1.0.7.99.xx");
  EXPECT_EQ(j.Get("extra"), R"({"a":[1,2,{"b":"}"}]})");
  EXPECT_EQ(j.Get("flag"), "true");
  EXPECT_FALSE(j.Has("nope"));
  EXPECT_TRUE(j.Parse(R"( { "op" : "synced" , "cursor" : "57", "more":false } )"));
  EXPECT_EQ(j.Get("cursor"), "57");
  EXPECT_EQ(j.Get("more"), "false");
  EXPECT_TRUE(j.Parse(R"({"op":"error","message":"say \"hi\"","code":"bad_request"})"));
  EXPECT_EQ(j.Get("code"), "bad_request");
  EXPECT_FALSE(j.Parse("not json"));
  EXPECT_FALSE(j.Parse(R"({"op":"unterminated)"));
}

TEST(WsCodec, ClientFramesRoundTrip) {
  for (size_t size : {0u, 5u, 125u, 126u, 1000u, 65535u, 65536u, 200000u}) {
    std::string payload(size, 'a');
    for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>('a' + i % 26);
    std::string out = "prefix";
    AppendClientFrame(out, WsOpcode::kText, payload, 0x12345678);
    WsFrame f;
    ASSERT_EQ(ParseFrame(out.data() + 6, out.size() - 6, f), WsParse::kFrame) << size;
    EXPECT_TRUE(f.fin);
    EXPECT_TRUE(f.masked);
    EXPECT_EQ(f.opcode, WsOpcode::kText);
    ASSERT_EQ(f.payload_bytes, size);
    std::string got = out.substr(6 + f.header_bytes);
    if (size) {
      EXPECT_NE(got, payload);  // masked on the wire
    }
    ApplyMask(got.data(), got.size(), f.mask);
    EXPECT_EQ(got, payload);
    // Every strict prefix is incomplete.
    for (size_t cut : {size_t{0}, size_t{1}, f.header_bytes - 1, out.size() - 7}) {
      if (cut >= out.size() - 6) continue;
      EXPECT_EQ(ParseFrame(out.data() + 6, cut, f), WsParse::kNeedMore);
    }
  }
}

TEST(WsCodec, ParsesServerFrames) {
  // Unmasked text frame "hi" and a ping with payload.
  const char text[] = {'\x81', '\x02', 'h', 'i', '\x89', '\x01', 'x'};
  WsFrame f;
  ASSERT_EQ(ParseFrame(text, sizeof text, f), WsParse::kFrame);
  EXPECT_EQ(f.header_bytes, 2u);
  EXPECT_EQ(f.payload_bytes, 2u);
  EXPECT_FALSE(f.masked);
  ASSERT_EQ(ParseFrame(text + 4, 3, f), WsParse::kFrame);
  EXPECT_EQ(f.opcode, WsOpcode::kPing);
  const char rsv[] = {'\xC1', '\x00'};
  EXPECT_EQ(ParseFrame(rsv, 2, f), WsParse::kError);
}

TEST(WsCodec, HandshakeAccept) {
  // The example of RFC 6455 section 1.3.
  EXPECT_EQ(WebSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const std::string key = MakeWebSocketKey(42);
  EXPECT_EQ(key.size(), 24u);
  const std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                           "sec-websocket-accept: " + WebSocketAccept(key) + "\r\n\r\n";
  int status = 0;
  EXPECT_TRUE(CheckUpgradeResponse(head, key, status));
  EXPECT_EQ(status, 101);
  EXPECT_FALSE(CheckUpgradeResponse(head, MakeWebSocketKey(43), status));
  EXPECT_FALSE(CheckUpgradeResponse("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", key, status));
  EXPECT_EQ(status, 401);
  const std::string req = BuildUpgradeRequest("127.0.0.1:8080", "/v1/ws", key, "tok");
  EXPECT_NE(req.find("Authorization: Bearer tok\r\n"), std::string::npos);
  EXPECT_EQ(req.substr(req.size() - 4), "\r\n\r\n");
}

// ---------------------------------------------------------------- placement

TEST(Placement, ParsesOneServerAndAList) {
  std::vector<ServerAddr> out;
  std::string error;
  ASSERT_TRUE(ParseServerList("127.0.0.1:8080", out, error)) << error;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].host, "127.0.0.1");
  EXPECT_EQ(out[0].port, 8080);
  ASSERT_TRUE(ParseServerList("127.0.0.1:1,localhost:2,127.0.0.3:65535", out, error)) << error;
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].ToString(), "localhost:2");
  EXPECT_EQ(out[2].port, 65535);
}

TEST(Placement, RejectsBadServerLists) {
  std::vector<ServerAddr> out;
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:65536", "127.0.0.1:-1",
                          "127.0.0.1:80x", "127.0.0.1:80,", ",127.0.0.1:80", "127.0.0.1:80,,127.0.0.1:81"}) {
    std::string error;
    EXPECT_FALSE(ParseServerList(bad, out, error)) << bad;
    EXPECT_NE(error.find("bad server address"), std::string::npos) << bad;
  }
}

TEST(Placement, ParsesPidLists) {
  std::vector<int> out;
  std::string error;
  ASSERT_TRUE(ParsePidList("42", out, error)) << error;
  EXPECT_EQ(out, std::vector<int>{42});
  ASSERT_TRUE(ParsePidList("1,22,333", out, error)) << error;
  EXPECT_EQ(out, (std::vector<int>{1, 22, 333}));
  for (const char* bad : {"", "0", "-5", "12a", "1,,2", "1,", "99999999999"}) {
    EXPECT_FALSE(ParsePidList(bad, out, error)) << bad;
  }
}

TEST(Placement, PairsSpanTwoNodesAndSpreadEvenly) {
  EXPECT_EQ(PairNode(0, 0, 1), 0u);
  EXPECT_EQ(PairNode(0, 1, 1), 0u);  // one node: both sides on it
  for (size_t nodes : {2u, 3u, 6u}) {
    std::vector<int> senders(nodes), receivers(nodes);
    for (size_t p = 0; p < 60; ++p) {
      const size_t a = PairNode(p, 0, nodes), b = PairNode(p, 1, nodes);
      ASSERT_LT(a, nodes);
      ASSERT_LT(b, nodes);
      EXPECT_NE(a, b) << "pair " << p << " of " << nodes << " nodes";
      EXPECT_EQ(b, (a + 1) % nodes);
      ++senders[a];
      ++receivers[b];
    }
    for (size_t n = 0; n < nodes; ++n) {
      EXPECT_EQ(senders[n], 60 / static_cast<int>(nodes));
      EXPECT_EQ(receivers[n], 60 / static_cast<int>(nodes));
    }
  }
}

TEST(Placement, RoundRobinSpreadsConnections) {
  std::vector<int> per(6);
  for (size_t i = 0; i < 100; ++i) ++per[RoundRobinNode(i, per.size())];
  EXPECT_EQ(per, (std::vector<int>{17, 17, 17, 17, 16, 16}));
  EXPECT_EQ(RoundRobinNode(5, 1), 0u);
}

}  // namespace
}  // namespace parley::bench
