// The client library against the real server: chat both ways, a server
// restart (SIGTERM and kill -9) mid-conversation, a client restart from its
// state file, HTTP helpers, and a refused token.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "client/client.h"
#include "client/http_api.h"
#include "client/testing/test_server.h"

namespace parley::client {
namespace {

using namespace std::chrono_literals;
using testing::TestServer;
using Clock = std::chrono::steady_clock;

// Collects a client's events; Wait() reads until a condition holds.
class Recorder {
 public:
  explicit Recorder(Client& c) : client_(c) {}
  bool Wait(const std::function<bool()>& done, std::chrono::milliseconds timeout = 30s) {
    auto deadline = Clock::now() + timeout;
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      if (auto e = client_.NextEvent(50ms)) Record(std::move(*e));
    }
    return true;
  }
  bool WaitFor(EventType type, std::chrono::milliseconds timeout = 30s) {
    size_t before = Count(type);
    return Wait([&] { return Count(type) > before; }, timeout);
  }
  void Pump(std::chrono::milliseconds timeout) {
    if (auto e = client_.NextEvent(timeout)) Record(std::move(*e));
  }
  size_t Count(EventType type) const {
    size_t n = 0;
    for (const auto& e : events) n += e.type == type;
    return n;
  }
  // Contents of released messages of `conversation` (all if empty), in order.
  std::vector<std::string> Contents(const std::string& conversation = "") const {
    std::vector<std::string> out;
    for (const auto& e : events) {
      if (e.type != EventType::kMessage) continue;
      if (!conversation.empty() && e.conversation_id != conversation) continue;
      out.push_back(std::string(e.frame.at("content").as_string()));
    }
    return out;
  }
  std::vector<uint64_t> Seqs(const std::string& conversation) const {
    std::vector<uint64_t> out;
    for (const auto& e : events) {
      if ((e.type == EventType::kMessage || e.type == EventType::kGroupEvent) &&
          e.conversation_id == conversation) {
        out.push_back(e.seq);
      }
    }
    return out;
  }
  std::vector<Event> events;

 private:
  void Record(Event e) { events.push_back(std::move(e)); }
  Client& client_;
};

class ClientIT : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()) << server_.log(); }

  std::string Login(const std::string& user) {
    auto api = Api::Make(server_.url());
    EXPECT_TRUE(api.ok());
    auto reg = api->Register(user, "password123");
    EXPECT_TRUE(reg.ok()) << reg.status().ToString();
    auto login = api->Login(user, "password123");
    EXPECT_TRUE(login.ok()) << login.status().ToString();
    return login.ok() ? login->token : "";
  }

  ClientOptions Options(const std::string& token, const std::string& state = "") {
    ClientOptions o;
    o.server = server_.url();
    o.token = token;
    o.state_file = state.empty() ? "" : server_.dir() + "/" + state;
    o.backoff.base = 50ms;
    o.backoff.cap = 500ms;
    o.backoff.overload_floor = 100ms;
    return o;
  }

  static void StartAndSync(Client& c, Recorder& r) {
    std::string error;
    ASSERT_TRUE(c.Start(&error)) << error;
    ASSERT_TRUE(r.WaitFor(EventType::kSynced)) << "no synced";
  }

  TestServer server_;
};

void ExpectConsecutive(const std::vector<uint64_t>& seqs) {
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1) << "at " << i;
}

TEST_F(ClientIT, TwoClientsChatBothWays) {
  Client alice(Options(Login("alice"))), bob(Options(Login("bob")));
  Recorder ra(alice), rb(bob);
  StartAndSync(alice, ra);
  StartAndSync(bob, rb);
  EXPECT_EQ(alice.user_id(), "alice");
  for (int i = 0; i < 5; ++i) {
    alice.Send(Target::User("bob"), "a" + std::to_string(i));
    bob.Send(Target::User("alice"), "b" + std::to_string(i));
  }
  ASSERT_TRUE(ra.Wait([&] { return ra.Contents().size() == 10; }));
  ASSERT_TRUE(rb.Wait([&] { return rb.Contents().size() == 10; }));
  EXPECT_EQ(ra.Contents(), rb.Contents());  // both see one order: the conversation's
  std::string conversation = ra.events.back().conversation_id;
  EXPECT_EQ(ra.Seqs(conversation), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(rb.Seqs(conversation), ra.Seqs(conversation));
  EXPECT_EQ(ra.Count(EventType::kAck), 5u);
  EXPECT_EQ(alice.pending_sends(), 0u);
}

TEST_F(ClientIT, PeriodicResyncAdvancesTheCursorWithoutRepeats) {
  ClientOptions bob_options = Options(Login("bob"), "bob.json");
  bob_options.resync_after_live_frames = 3;
  Client alice(Options(Login("alice"))), bob(bob_options);
  Recorder ra(alice), rb(bob);
  StartAndSync(alice, ra);
  StartAndSync(bob, rb);
  std::vector<std::string> sent;
  for (int round = 0; round < 3; ++round) {  // each round's live frames trigger a resync
    for (int i = 0; i < 4; ++i) {
      sent.push_back("r" + std::to_string(round) + "." + std::to_string(i));
      alice.Send(Target::User("bob"), sent.back());
    }
    ASSERT_TRUE(rb.Wait([&] { return rb.Contents().size() >= sent.size(); }));
  }
  ASSERT_TRUE(rb.Wait([&] { return rb.Count(EventType::kSynced) >= 3; }))
      << rb.Count(EventType::kSynced) << " synced";
  rb.Wait([] { return false; }, 300ms);
  EXPECT_EQ(rb.Contents(), sent);
}

// Sends `count` messages from `from` to `to`, restarting the server after
// `restart_after` of them with `restart`; checks what `to`'s application saw.
void ChatThroughRestart(ClientIT* t, TestServer& server, Client& from, Recorder& rfrom, Client& to,
                        Recorder& rto, const std::function<void()>& restart) {
  const int kCount = 30, kRestartAfter = 12;
  std::vector<std::string> sent;
  for (int i = 0; i < kCount; ++i) {
    if (i == kRestartAfter) restart();
    sent.push_back("m" + std::to_string(i));
    from.Send(Target::User("bob"), sent.back());
  }
  ASSERT_TRUE(rto.Wait([&] { return rto.Contents().size() >= sent.size(); }, 60s)) << server.log();
  ASSERT_TRUE(rfrom.Wait([&] { return rfrom.Contents().size() >= sent.size(); }, 60s));
  EXPECT_EQ(from.pending_sends(), 0u);
  // Nothing more trickles in afterwards.
  rto.Wait([] { return false; }, 300ms);
  EXPECT_EQ(rto.Contents(), sent);  // nothing lost, nothing twice, in order
  EXPECT_EQ(rfrom.Contents(), sent);
  std::string conversation = rto.events.back().conversation_id;
  ExpectConsecutive(rto.Seqs(conversation));
  EXPECT_EQ(rto.Seqs(conversation), rfrom.Seqs(conversation));
  EXPECT_GE(rto.Count(EventType::kReconnecting), 1u);
  EXPECT_GE(rto.Count(EventType::kSynced), 2u);
}

TEST_F(ClientIT, ServerSigtermMidConversation) {
  Client alice(Options(Login("alice"))), bob(Options(Login("bob")));
  Recorder ra(alice), rb(bob);
  StartAndSync(alice, ra);
  StartAndSync(bob, rb);
  ChatThroughRestart(this, server_, alice, ra, bob, rb, [&] {
    EXPECT_EQ(server_.Stop(), 0);
    ASSERT_TRUE(server_.Start()) << server_.log();
  });
}

TEST_F(ClientIT, ServerKill9MidConversation) {
  Client alice(Options(Login("alice"), "alice.json")), bob(Options(Login("bob"), "bob.json"));
  Recorder ra(alice), rb(bob);
  StartAndSync(alice, ra);
  StartAndSync(bob, rb);
  ChatThroughRestart(this, server_, alice, ra, bob, rb, [&] {
    server_.Kill9();
    ASSERT_TRUE(server_.Start()) << server_.log();
  });
}

TEST_F(ClientIT, ServerMovesToAnotherAddress) {
  Client alice(Options(Login("alice"))), bob(Options(Login("bob")));
  Recorder ra(alice), rb(bob);
  StartAndSync(alice, ra);
  StartAndSync(bob, rb);
  alice.Send(Target::User("bob"), "before");
  ASSERT_TRUE(rb.Wait([&] { return rb.Contents().size() == 1; }));
  server_.Kill9();
  alice.Send(Target::User("bob"), "while down");
  uint16_t old_port = server_.port();
  ASSERT_TRUE(server_.Start(TestServer::FreePort())) << server_.log();
  ASSERT_NE(server_.port(), old_port);
  for (Client* c : {&alice, &bob}) {
    c->SetServer(server_.url());
    c->Reconnect();
  }
  ASSERT_TRUE(rb.Wait([&] { return rb.Contents().size() == 2; })) << server_.log();
  EXPECT_EQ(rb.Contents(), (std::vector<std::string>{"before", "while down"}));
}

TEST_F(ClientIT, RestartedClientResumesFromItsStateFile) {
  std::string bob_token = Login("bob");
  Client alice(Options(Login("alice")));
  Recorder ra(alice);
  StartAndSync(alice, ra);
  {
    Client bob(Options(bob_token, "bob.json"));
    Recorder rb(bob);
    StartAndSync(bob, rb);
    alice.Send(Target::User("bob"), "one");
    alice.Send(Target::User("bob"), "two");
    ASSERT_TRUE(rb.Wait([&] { return rb.Contents().size() == 2; }));
  }  // bob's process "exits"
  alice.Send(Target::User("bob"), "three");
  ASSERT_TRUE(ra.Wait([&] { return alice.pending_sends() == 0; }));
  Client bob(Options(bob_token, "bob.json"));
  Recorder rb(bob);
  StartAndSync(bob, rb);
  ASSERT_TRUE(rb.Wait([&] { return rb.Contents().size() >= 1; }));
  rb.Wait([] { return false; }, 300ms);
  EXPECT_EQ(rb.Contents(), std::vector<std::string>{"three"});
}

TEST_F(ClientIT, OutboxSurvivesAClientRestart) {
  std::string alice_token = Login("alice");
  Login("bob");
  server_.Kill9();  // alice queues while the server is down, then "exits"
  {
    Client alice(Options(alice_token, "alice.json"));
    std::string error;
    ASSERT_TRUE(alice.Start(&error)) << error;
    alice.Send(Target::User("bob"), "queued offline");
    Recorder ra(alice);
    ASSERT_TRUE(ra.WaitFor(EventType::kReconnecting));
  }
  ASSERT_TRUE(server_.Start());
  Client alice(Options(alice_token, "alice.json"));
  Recorder ra(alice);
  StartAndSync(alice, ra);
  ASSERT_TRUE(ra.Wait([&] { return ra.Contents().size() == 1; }));
  EXPECT_EQ(ra.Contents(), std::vector<std::string>{"queued offline"});
  EXPECT_EQ(ra.Count(EventType::kAck), 1u);
  EXPECT_EQ(alice.pending_sends(), 0u);
}

TEST_F(ClientIT, ReceiptsAndTypingAreDeliveredOrRefusedCleanly) {
  Client alice(Options(Login("alice"))), bob(Options(Login("bob")));
  Recorder ra(alice), rb(bob);
  StartAndSync(alice, ra);
  StartAndSync(bob, rb);
  alice.Send(Target::User("bob"), "hi");
  ASSERT_TRUE(rb.Wait([&] { return rb.Contents().size() == 1; }));
  std::string conversation = rb.events.back().conversation_id;
  bob.MarkRead(conversation, 1);
  bob.SetTyping(conversation, true);
  // Either the server supports receipts (alice hears of them) or bob gets an
  // error event; in both cases the connection stays up and usable.
  auto deadline = Clock::now() + 30s;
  while (ra.Count(EventType::kReceipt) == 0 && rb.Count(EventType::kError) == 0) {
    ASSERT_LT(Clock::now(), deadline) << "neither a receipt nor an error";
    ra.Pump(20ms);
    rb.Pump(20ms);
  }
  bob.Send(Target::User("alice"), "still here");
  ASSERT_TRUE(ra.Wait([&] { return ra.Contents().size() == 2; }));
  EXPECT_TRUE(bob.connected());
}

TEST_F(ClientIT, BadTokenGivesUp) {
  Client c(Options("not-a-token"));
  Recorder r(c);
  ASSERT_TRUE(c.Start());
  ASSERT_TRUE(r.WaitFor(EventType::kGaveUp));
  EXPECT_NE(r.events.back().detail.find("401"), std::string::npos) << r.events.back().detail;
}

TEST_F(ClientIT, HttpHelpers) {
  auto api = Api::Make(server_.url());
  ASSERT_TRUE(api.ok());
  ASSERT_TRUE(api->Register("carol", "password123").ok());
  ASSERT_TRUE(api->Register("dave", "password123").ok());
  EXPECT_EQ(api->Register("carol", "password123").status().code(), Code::kConflict);
  EXPECT_EQ(api->Login("carol", "wrong-password").status().code(), Code::kUnauthorized);
  auto login = api->Login("Carol", "password123");
  ASSERT_TRUE(login.ok());
  EXPECT_EQ(login->user_id, "carol");
  api->set_token(login->token);
  auto group = api->CreateGroup("team", {"dave"});
  ASSERT_TRUE(group.ok()) << group.status().ToString();
  auto sent = api->SendMessage("", *group, "hello team", "text", "cm-1");
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  auto again = api->SendMessage("", *group, "hello team", "text", "cm-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(sent->at("message_id"), again->at("message_id"));  // idempotent
  auto history = api->History(*group);
  ASSERT_TRUE(history.ok());
  auto& messages = history->at("messages").as_array();
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(messages.back().at("content").as_string(), "hello team");
  EXPECT_TRUE(api->RemoveMember(*group, "dave").ok());
  EXPECT_TRUE(api->AddMember(*group, "dave").ok());
  auto conversations = api->Conversations();
  ASSERT_TRUE(conversations.ok());
  EXPECT_EQ(conversations->at("conversations").as_array().size(), 1u);
  EXPECT_EQ(api->History("g:nope").status().code(), Code::kForbidden);
  auto upload = api->Upload("hello bytes", "text/plain");
  ASSERT_TRUE(upload.ok()) << upload.status().ToString();
  EXPECT_EQ(upload->at("size").to_number<int64_t>(), 11);
  std::string media_id(upload->at("media_id").as_string());
  auto shared = api->SendMedia("", *group, "hello.txt", "file", "media-1", media_id);
  ASSERT_TRUE(shared.ok()) << shared.status().ToString();
  auto with_media = api->History(*group);
  ASSERT_TRUE(with_media.ok());
  EXPECT_EQ(with_media->at("messages").as_array().back().at("media_id").as_string(), media_id);
  EXPECT_EQ(api->Upload("", "text/plain").status().code(), Code::kBadRequest);
  EXPECT_EQ(api->SendMedia("", *group, "", "image", "media-2", "mNoSuchMedia").status().code(),
            Code::kForbidden);
  EXPECT_EQ(api->UploadFile("/no/such/file", "text/plain").status().code(), Code::kBadRequest);
  EXPECT_TRUE(api->Logout().ok());
  EXPECT_EQ(api->Conversations().status().code(), Code::kUnauthorized);
}

TEST_F(ClientIT, UnreachableServerIsUnavailable) {
  server_.Kill9();
  auto api = Api::Make(server_.url());
  auto r = api->Register("erin", "password123");
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("cannot reach"), std::string::npos);
}

}  // namespace
}  // namespace parley::client
