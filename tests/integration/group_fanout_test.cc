// Fan-out into a 500-member group (SPEC §5.3, §5.4, §6): members spread over
// many WebSocket sessions while several senders write and an admin adds and
// removes members concurrently. Every online session must get exactly the
// conversation's stream for the range it was a member, in seq order with no
// gap or duplicate; offline members get the same ranges with `sync`.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "testing/helpers.h"

namespace parley::testing {
namespace {

using Clock = std::chrono::steady_clock;

class GroupFanoutTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--send-rate", "100000", "--send-burst", "100000"};
  }
};

constexpr int kUsers = 500;        // index 0 is the owner (admin)
constexpr int kInitial = 480;      // members at creation: users [0, 480)
constexpr int kOnline = 140;       // users [1, 140] online at the start...
constexpr int kLateFirst = 480;    // users [480, 500) are added during the run,
constexpr int kLateOnline = 10;    // ...the first 10 of them online too
constexpr int kSenders = 5;        // users [1, 5] send
constexpr int kPerSender = 30;
// Removed during the run: 5 online members and 5 offline ones.
const std::vector<int> kRemoved = {10, 11, 12, 13, 14, 200, 201, 202, 203, 204};

struct Expected {
  int64_t first = 0;  // first seq the member sees
  int64_t last = 0;   // last seq it sees (its removal event, or the final message)
};

TEST_F(GroupFanoutTest, FiveHundredMembersManySessionsWithConcurrentChurn) {
  auto t0 = Clock::now();
  // --- 500 users, registered and logged in concurrently ---
  std::vector<User> users(kUsers);
  {
    std::vector<std::thread> threads;
    std::atomic<int> next{0};
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        HttpClient client(port());
        for (int i = next++; i < kUsers; i = next++) {
          users[i].id = UniqueUser("f" + std::to_string(i));
          users[i].token = RegisterAndLogin(client, users[i].id);
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  for (auto& u : users) ASSERT_FALSE(u.token.empty()) << u.id;
  const User& owner = users[0];
  std::vector<std::string> initial;
  for (int i = 1; i < kInitial; ++i) initial.push_back(users[i].id);
  std::string g = CreateGroup(http(), owner.token, "five hundred", initial);
  ASSERT_FALSE(g.empty());

  // --- ~300 sessions for 150 online members (1-3 each), plus sender sockets ---
  struct Session {
    int user;
    std::unique_ptr<WsClient> ws;
  };
  std::vector<Session> sessions;
  std::vector<int> online;
  for (int i = 1; i <= kOnline; ++i) online.push_back(i);
  for (int i = kLateFirst; i < kLateFirst + kLateOnline; ++i) online.push_back(i);
  for (int u : online) {
    for (int k = 0; k < 1 + u % 3; ++k) {
      sessions.push_back({u, ConnectReady(port(), users[u].token)});
      ASSERT_TRUE(sessions.back().ws->IsOpen()) << "session for user " << u;
    }
  }
  std::vector<std::unique_ptr<WsClient>> senders;
  for (int s = 1; s <= kSenders; ++s) senders.push_back(ConnectReady(port(), users[s].token));
  std::cerr << "[fanout] " << sessions.size() << " sessions ready after "
            << std::chrono::duration<double>(Clock::now() - t0).count() << " s\n";

  // --- senders and membership churn at once ---
  std::mutex mu;
  std::map<int64_t, std::string> message_at;     // seq -> message_id
  std::map<int64_t, std::string> event_at;       // seq -> kind
  std::map<int, int64_t> added_at, removed_at;   // user index -> seq
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int s = 0; s < kSenders; ++s) {
    threads.emplace_back([&, s] {
      WsClient& ws = *senders[s];
      std::set<std::string> want;
      for (int i = 0; i < kPerSender; ++i) {
        want.insert(UniqueCmid("s" + std::to_string(s)));
      }
      int i = 0;
      for (auto& cmid : want) {
        if (!ws.SendJson(ConvSendFrame(g, "s" + std::to_string(s) + "-" + std::to_string(i++), cmid))) failures++;
      }
      while (!want.empty()) {
        auto f = ws.ReadUntil([](auto& f) { return Op(f) == "ack" || Op(f) == "error"; }, 20s);
        if (!f || Op(*f) != "ack") {
          ADD_FAILURE() << "sender " << s << ": " << (f ? Dump(*f) : "timeout");
          failures++;
          return;
        }
        want.erase(Str(*f, "client_msg_id"));
        std::lock_guard lock(mu);
        message_at[Int(*f, "seq")] = Str(*f, "message_id");
      }
    });
  }
  threads.emplace_back([&] {
    HttpClient client(port());
    for (int i = 0; i < kUsers - kLateFirst; ++i) {
      int u = kLateFirst + i;
      auto res = client.Post("/v1/groups/" + g + "/members", json::object{{"user_id", users[u].id}}, owner.token);
      if (res.status != 200 || Int(res.object(), "seq") <= 0) {
        ADD_FAILURE() << "add " << u << ": " << res.Describe();
        failures++;
      } else {
        std::lock_guard lock(mu);
        added_at[u] = Int(res.object(), "seq");
        event_at[added_at[u]] = "member_added";
      }
      if (i >= static_cast<int>(kRemoved.size())) continue;
      int r = kRemoved[i];
      auto del = client.Delete("/v1/groups/" + g + "/members/" + users[r].id, owner.token);
      if (del.status != 200 || Int(del.object(), "seq") <= 0) {
        ADD_FAILURE() << "remove " << r << ": " << del.Describe();
        failures++;
      } else {
        std::lock_guard lock(mu);
        removed_at[r] = Int(del.object(), "seq");
        event_at[removed_at[r]] = "member_removed";
      }
    }
  });
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  auto end = SendToConversation(*senders[0], g, "the end", UniqueCmid("end"));
  ASSERT_TRUE(end && Op(*end) == "ack") << (end ? Dump(*end) : "timeout");
  const int64_t final_seq = Int(*end, "seq");
  message_at[final_seq] = Str(*end, "message_id");
  event_at[1] = "created";
  // The acked seqs and events tile [1, final] exactly.
  ASSERT_EQ(message_at.size() + event_at.size(), static_cast<size_t>(final_seq));
  for (int64_t s = 1; s <= final_seq; ++s) {
    ASSERT_TRUE(message_at.count(s) + event_at.count(s) == 1) << "seq " << s;
  }
  ASSERT_EQ(final_seq, 1 + kSenders * kPerSender + (kUsers - kLateFirst) + static_cast<int64_t>(kRemoved.size()) + 1);

  {
    int64_t lo = added_at.begin()->second, hi = lo;
    for (auto& [u, s] : added_at) lo = std::min(lo, s), hi = std::max(hi, s);
    for (auto& [u, s] : removed_at) lo = std::min(lo, s), hi = std::max(hi, s);
    int between = 0;
    for (auto& [s, id] : message_at) between += s > lo && s < hi;
    std::cerr << "[fanout] membership events span seqs " << lo << ".." << hi << " with " << between
              << " messages interleaved; final seq " << final_seq << "\n";
  }
  auto expected = [&](int u, bool from_creation) {
    Expected e{from_creation ? 1 : 2, final_seq};  // sessions connected after `created`
    if (added_at.count(u)) e.first = added_at.at(u);
    if (removed_at.count(u)) e.last = removed_at.at(u);
    return e;
  };
  // Checks one member's frames of the group: exactly seqs [first, last], each
  // the acked message or the recorded event.
  auto check = [&](const std::vector<json::object>& frames, int u, Expected e, const std::string& who) {
    std::vector<int64_t> seqs;
    for (auto& f : frames) seqs.push_back(Int(f, "seq"));
    std::vector<int64_t> want;
    for (int64_t s = e.first; s <= e.last; ++s) want.push_back(s);
    if (seqs != want) {
      size_t i = 0;
      while (i < seqs.size() && i < want.size() && seqs[i] == want[i]) ++i;
      ADD_FAILURE() << who << " (user " << u << "): got " << seqs.size() << " frames for seqs ["
                    << e.first << "," << e.last << "]; first difference at index " << i << ": got "
                    << (i < seqs.size() ? std::to_string(seqs[i]) : "end") << ", want "
                    << (i < want.size() ? std::to_string(want[i]) : "end");
      return false;
    }
    for (auto& f : frames) {
      int64_t s = Int(f, "seq");
      if (message_at.count(s)) {
        if (Op(f) != "message" || Str(f, "message_id") != message_at.at(s)) {
          ADD_FAILURE() << who << ": seq " << s << " should be message " << message_at.at(s) << ": " << Dump(f);
          return false;
        }
      } else if (Op(f) != "event" || Str(f, "kind") != event_at.at(s)) {
        ADD_FAILURE() << who << ": seq " << s << " should be event " << event_at.at(s) << ": " << Dump(f);
        return false;
      }
    }
    return true;
  };

  // --- every online session ---
  auto deadline = Clock::now() + 40s;
  int bad_sessions = 0;
  for (size_t i = 0; i < sessions.size(); ++i) {
    auto& [u, ws] = sessions[i];
    Expected e = expected(u, false);
    std::vector<json::object> frames;
    while (frames.empty() || Int(frames.back(), "seq") < e.last) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      auto f = ws->ReadFrame(std::max(left, std::chrono::milliseconds(1)));
      if (!f) break;
      if ((Op(*f) == "message" || Op(*f) == "event") && Str(*f, "conversation_id") == g) frames.push_back(*f);
    }
    if (!check(frames, u, e, "session " + std::to_string(i))) {
      if (++bad_sessions >= 5) break;  // enough detail
    }
  }
  EXPECT_EQ(bad_sessions, 0);
  // Nothing more arrives: no duplicates after the end, nothing after a removal.
  auto quiet_until = Clock::now() + 500ms;
  for (auto& [u, ws] : sessions) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(quiet_until - Clock::now());
    while (auto f = ws->ReadFrame(std::max(left, std::chrono::milliseconds(0)))) {
      left = std::chrono::milliseconds(0);
      EXPECT_FALSE(Str(*f, "conversation_id") == g) << "user " << u << " got an extra frame " << Dump(*f);
    }
  }
  std::cerr << "[fanout] live checked after " << std::chrono::duration<double>(Clock::now() - t0).count() << " s\n";

  // --- offline members catch up with sync ---
  std::set<int> online_set(online.begin(), online.end());
  std::vector<int> offline;
  for (int u = 1; u < kUsers; ++u) {
    if (!online_set.count(u)) offline.push_back(u);
  }
  std::atomic<int> next{0}, bad_syncs{0};
  threads.clear();
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      HttpClient client(port());
      for (int k = next++; k < static_cast<int>(offline.size()); k = next++) {
        int u = offline[k];
        auto frames = InConversation(HttpSyncAll(client, users[u].token), g);
        std::vector<json::object> items;
        for (auto& f : frames) {
          if (Op(f) == "message" || Op(f) == "event") items.push_back(f);
        }
        if (!check(items, u, expected(u, true), "sync of " + users[u].id)) {
          if (++bad_syncs >= 5) return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad_syncs.load(), 0);
  // The group's final shape.
  auto info = http().Get("/v1/groups/" + g, owner.token);
  ASSERT_EQ(info.status, 200) << info.Describe();
  EXPECT_EQ(Int(info.object(), "member_count"), kUsers - static_cast<int64_t>(kRemoved.size()));
  EXPECT_EQ(Int(info.object(), "last_seq"), final_seq);
  std::cerr << "[fanout] done after " << std::chrono::duration<double>(Clock::now() - t0).count() << " s\n";
}

}  // namespace
}  // namespace parley::testing
