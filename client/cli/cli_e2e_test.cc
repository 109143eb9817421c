// parley-cli end to end through its scriptable mode, against the real server.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json/parse.hpp>
#include <fstream>

#include "client/testing/test_server.h"

namespace parley::client {
namespace {

namespace json = boost::json;
using testing::ProgramResult;
using testing::RunProgram;
using testing::TestServer;

class CliE2E : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()) << server_.log(); }

  // Runs parley-cli as `who` (each user has its own config file).
  ProgramResult Cli(const std::string& who, std::vector<std::string> args,
                    const std::string& input = "", bool with_server = true) {
    std::vector<std::string> argv = {PARLEY_CLI_PATH, "--config", Config(who)};
    if (with_server) {
      argv.push_back("--server");
      argv.push_back(server_.url());
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, input, {"HOME=" + server_.dir()});
  }
  std::string Config(const std::string& who) { return server_.dir() + "/cfg/" + who + ".toml"; }

  json::value Json(const ProgramResult& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.out, ec);
    EXPECT_FALSE(ec) << "not JSON: " << r.out << r.err;
    return v;
  }

  void RegisterAndLogin(const std::string& who) {
    auto reg = Cli(who, {"register", who, "--password-stdin"}, "password123\n");
    ASSERT_EQ(reg.exit_code, 0) << reg.err;
    EXPECT_EQ(reg.out, "registered " + who + "\n");
    auto login = Cli(who, {"login", who, "--password", "password123"});
    ASSERT_EQ(login.exit_code, 0) << login.err;
  }

  TestServer server_;
};

TEST_F(CliE2E, AccountsAndErrors) {
  RegisterAndLogin("alice");
  struct stat st {};
  ASSERT_EQ(stat(Config("alice").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);  // it holds a token

  auto taken = Cli("x", {"register", "alice", "--password", "password123"});
  EXPECT_EQ(taken.exit_code, 1);
  EXPECT_NE(taken.err.find("conflict"), std::string::npos) << taken.err;

  auto wrong = Cli("x", {"login", "alice", "--password", "not-the-password"});
  EXPECT_EQ(wrong.exit_code, 3);
  EXPECT_NE(wrong.err.find("unauthorized"), std::string::npos) << wrong.err;

  auto anonymous = Cli("nobody", {"conversations"});
  EXPECT_EQ(anonymous.exit_code, 3);
  EXPECT_NE(anonymous.err.find("not logged in"), std::string::npos) << anonymous.err;

  auto usage = Cli("alice", {"send"});
  EXPECT_EQ(usage.exit_code, 2);

  auto down =
      Cli("x", {"--server", "http://127.0.0.1:1", "register", "zed", "--password", "password123"},
          "", /*with_server=*/false);
  EXPECT_EQ(down.exit_code, 4);
  EXPECT_NE(down.err.find("cannot reach"), std::string::npos) << down.err;

  // The saved session carries the server: no --server needed afterwards.
  auto list = Cli("alice", {"--json", "conversations"}, "", /*with_server=*/false);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(Json(list).at("conversations").as_array().empty());

  auto logout = Cli("alice", {"logout"});
  EXPECT_EQ(logout.exit_code, 0) << logout.err;
  EXPECT_EQ(Cli("alice", {"conversations"}).exit_code, 3);
}

TEST_F(CliE2E, SendHistoryGroupsUploadAndChat) {
  RegisterAndLogin("alice");
  RegisterAndLogin("bob");

  auto sent = Cli("alice", {"--json", "send", "bob", "hello bob"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  json::value ack = Json(sent);
  std::string direct(ack.at("conversation_id").as_string());
  EXPECT_EQ(ack.at("seq").as_int64(), 1);

  auto history = Cli("bob", {"history", "alice"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_NE(history.out.find("alice: hello bob"), std::string::npos) << history.out;
  auto history_json = Cli("bob", {"--json", "history", direct});
  ASSERT_EQ(history_json.exit_code, 0) << history_json.err;
  EXPECT_EQ(Json(history_json).at("messages").as_array().size(), 1u);

  auto created = Cli("alice", {"--json", "group", "create", "team", "bob"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string group(Json(created).at("conversation_id").as_string());
  ASSERT_EQ(Cli("alice", {"send", group, "hi team"}).exit_code, 0);
  auto team = Cli("bob", {"history", group});
  EXPECT_NE(team.out.find("alice: hi team"), std::string::npos) << team.out;
  EXPECT_EQ(Cli("alice", {"group", "remove", group, "bob"}).exit_code, 0);
  EXPECT_EQ(Cli("alice", {"group", "add", group, "bob"}).exit_code, 0);
  auto outsider = Cli("bob", {"group", "add", group, "bob"});
  EXPECT_NE(outsider.exit_code, 0);
  EXPECT_FALSE(outsider.err.empty());

  auto list = Cli("bob", {"--json", "conversations"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(Json(list).at("conversations").as_array().size(), 2u);

  std::string file = server_.dir() + "/note.txt";
  std::ofstream(file) << "some bytes";
  auto upload = Cli("alice", {"--json", "upload", file});
  ASSERT_EQ(upload.exit_code, 0) << upload.err;
  EXPECT_EQ(Json(upload).at("size").to_number<int64_t>(), 10);
  EXPECT_EQ(Json(upload).at("content_type").as_string(), "text/plain");

  // Upload and send in one go, to a user and to a group.
  auto shared = Cli("alice", {"--json", "upload", file, "--to", "bob"});
  ASSERT_EQ(shared.exit_code, 0) << shared.err;
  EXPECT_EQ(Json(shared).at("conversation_id").as_string(), direct);
  auto seen = Cli("bob", {"history", "alice"});
  EXPECT_NE(seen.out.find("alice: (file) note.txt [media m"), std::string::npos) << seen.out;
  auto to_group = Cli("alice", {"upload", file, "--to", group});
  EXPECT_EQ(to_group.exit_code, 0) << to_group.err;
  EXPECT_NE(to_group.out.find("sent to " + group), std::string::npos) << to_group.out;
  auto team_files = Cli("bob", {"--json", "history", group});
  EXPECT_EQ(Json(team_files).at("messages").as_array().back().at("type").as_string(), "file");

  // Refusals are clear errors.
  auto refused = Cli("alice", {"upload", file, "--type", "text/html"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("parley-cli: upload:"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("not accepted"), std::string::npos) << refused.err;
  auto nobody = Cli("alice", {"upload", file, "--to", "nosuchuser"});
  EXPECT_NE(nobody.exit_code, 0);
  EXPECT_NE(nobody.err.find("not_found"), std::string::npos) << nobody.err;

  // The interactive chat, scripted: lines on stdin are sent, /quit leaves
  // once they are acknowledged.
  auto chat = Cli("bob", {"chat", "alice"}, "hi from chat\n/history 5\n/quit\n");
  EXPECT_EQ(chat.exit_code, 0) << chat.err << chat.out;
  EXPECT_NE(chat.out.find("alice: hello bob"), std::string::npos) << chat.out;
  auto back = Cli("alice", {"history", "bob"});
  EXPECT_NE(back.out.find("bob: hi from chat"), std::string::npos) << back.out;
}

}  // namespace
}  // namespace parley::client
