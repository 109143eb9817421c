// parley-cli: the Parley terminal client. See `parley-cli --help`.
#include <CLI/CLI.hpp>
#include <csignal>
#include <functional>
#include <iostream>

#include "client/cli/commands.h"

namespace parley::client::cli {
namespace {

constexpr const char* kDefaultServer = "http://127.0.0.1:8080";

// Adds --password / --password-stdin to a subcommand.
void AddPasswordOptions(CLI::App* cmd, PasswordSource& pw) {
  cmd->add_option("--password", pw.password, "password (default: prompt, or a line on stdin)");
  cmd->add_flag("--password-stdin", pw.from_stdin, "read the password as a line on stdin");
}

int Main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"parley-cli: terminal client for the Parley chat server"};
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 ok, 1 refused by the server, 2 bad command line, 3 not logged in or\n"
      "session refused, 4 server unreachable or unavailable. Errors go to stderr.");
  Context ctx;
  std::string server_flag;
  app.add_option(
      "--server", server_flag,
      "server URL (default: the logged-in one, else " + std::string(kDefaultServer) + ")");
  app.add_option("--config", ctx.config_path, "config file (default " + DefaultConfigPath() + ")");
  app.add_flag("--json", ctx.json, "machine-readable JSON output");

  std::function<int()> run;
  std::string user, target, text, name, type = "text", display_name, device, path, content_type;
  std::vector<std::string> members;
  PasswordSource pw;
  int limit = 0;
  uint64_t before = 0, after = 0;
  bool channel = false;

  auto* reg = app.add_subcommand("register", "create an account");
  reg->add_option("USER", user, "user id (3-32 of a-z 0-9 _ . -)")->required();
  reg->add_option("--display-name", display_name, "name shown to others");
  AddPasswordOptions(reg, pw);
  reg->callback([&] { run = [&] { return RunRegister(ctx, user, pw, display_name); }; });

  auto* login = app.add_subcommand("login", "log in and save the session token");
  login->add_option("USER", user, "user id")->required();
  login->add_option("--device", device, "device name for the session");
  AddPasswordOptions(login, pw);
  login->callback([&] { run = [&] { return RunLogin(ctx, user, pw, device); }; });

  app.add_subcommand("logout", "revoke the saved session")->callback([&] {
    run = [&] { return RunLogout(ctx); };
  });
  app.add_subcommand("conversations", "list your conversations")->callback([&] {
    run = [&] { return RunConversations(ctx); };
  });

  auto* send = app.add_subcommand("send", "send one message");
  send->add_option("TARGET", target, "user id, or a conversation id (contains ':')")->required();
  send->add_option("TEXT", text, "message text")->required();
  send->add_option("--type", type, "message type (default text)");
  send->callback([&] { run = [&] { return RunSend(ctx, target, text, type); }; });

  auto* history = app.add_subcommand("history", "show a conversation's messages");
  history->add_option("TARGET", target, "conversation id, or the user of a 1:1 chat")->required();
  history->add_option("--limit", limit, "how many (1-200, default 50)");
  history->add_option("--before", before, "only messages below this seq");
  history->add_option("--after", after, "only messages above this seq");
  history->callback([&] { run = [&] { return RunHistory(ctx, target, limit, before, after); }; });

  auto* group = app.add_subcommand("group", "manage groups and channels");
  group->require_subcommand(1);
  auto* create = group->add_subcommand("create", "create a group (you are its admin)");
  create->add_option("NAME", name, "group name")->required();
  create->add_option("MEMBER", members, "initial members");
  create->add_flag("--channel", channel, "create a channel instead of a group");
  create->callback([&] { run = [&] { return RunGroupCreate(ctx, name, members, channel); }; });
  auto* add = group->add_subcommand("add", "add a member");
  add->add_option("CONV", target, "group conversation id")->required();
  add->add_option("USER", user, "user to add")->required();
  add->callback([&] { run = [&] { return RunGroupMember(ctx, target, user, true); }; });
  auto* remove = group->add_subcommand("remove", "remove a member (yourself: leave)");
  remove->add_option("CONV", target, "group conversation id")->required();
  remove->add_option("USER", user, "user to remove")->required();
  remove->callback([&] { run = [&] { return RunGroupMember(ctx, target, user, false); }; });
  auto* show = group->add_subcommand("show", "show a group and its members");
  show->add_option("CONV", target, "group conversation id")->required();
  show->callback([&] { run = [&] { return RunGroupShow(ctx, target); }; });

  auto* upload = app.add_subcommand("upload", "upload a file as media");
  upload->add_option("FILE", path, "file to upload")->required()->check(CLI::ExistingFile);
  upload->add_option("--type", content_type, "content type (default: from the extension)");
  std::string upload_to;
  upload->add_option("--to", upload_to, "send it as a message to this user or conversation id");
  upload->callback([&] { run = [&] { return RunUpload(ctx, path, content_type, upload_to); }; });

  auto* chat = app.add_subcommand("chat", "chat interactively (type /help inside)");
  chat->add_option("TARGET", target, "user id, or a conversation id")->required();
  chat->callback([&] { run = [&] { return RunChat(ctx, target); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (ctx.config_path.empty()) ctx.config_path = DefaultConfigPath();
  auto config = LoadConfig(ctx.config_path);
  if (!config.ok()) return Fail("config", config.status());
  ctx.config = *config;
  ctx.server = !server_flag.empty()         ? server_flag
               : !ctx.config.server.empty() ? ctx.config.server
                                            : kDefaultServer;
  if (!server_flag.empty() && !ctx.config.server.empty() && server_flag != ctx.config.server) {
    // The saved token belongs to another server: do not send it there.
    ctx.config.token.clear();
  }
  return run ? run() : UsageError("no command given (see --help)");
}

}  // namespace
}  // namespace parley::client::cli

int main(int argc, char** argv) { return parley::client::cli::Main(argc, argv); }
