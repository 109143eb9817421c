#include "client/cli/commands.h"

#include <termios.h>
#include <unistd.h>

#include <boost/json/array.hpp>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "client/backoff.h"

namespace parley::client::cli {
namespace json = boost::json;

namespace {

// The password from --password, else stdin: prompted without echo on a tty.
Result<std::string> ReadPassword(const PasswordSource& pw) {
  if (!pw.password.empty()) return pw.password;
  bool tty = isatty(STDIN_FILENO) && !pw.from_stdin;
  termios old{};
  if (tty) {
    std::cerr << "Password: " << std::flush;
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  }
  if (!got || line.empty()) return BadRequest("no password given (use --password or stdin)");
  return line;
}

std::string RandomId() {
  std::random_device rd;
  std::ostringstream out;
  out << "cli-" << std::hex << rd() << rd() << rd();
  return out.str();
}

std::string GuessContentType(const std::string& path) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".png", "image/png"},       {".jpg", "image/jpeg"},  {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},       {".webp", "image/webp"}, {".txt", "text/plain"},
      {".pdf", "application/pdf"}, {".mp4", "video/mp4"},   {".json", "application/json"}};
  for (const auto& [ext, type] : kTypes) {
    std::string e = ext;
    if (path.size() >= e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0)
      return type;
  }
  return "application/octet-stream";
}

std::string Members(const json::object& c) {
  if (auto* m = c.if_contains("members"); m && m->is_array()) {
    std::string out;
    for (const auto& u : m->get_array()) {
      if (!out.empty()) out += ",";
      if (u.is_string()) out += u.get_string();
    }
    return out;
  }
  return Str(c, "name") + " (" + std::to_string(Int(c, "member_count")) + " members)";
}

}  // namespace

Result<std::string> ResolveConversation(Api& api, const std::string& target) {
  if (target.find(':') != std::string::npos) return target;
  auto list = api.Conversations();
  if (!list.ok()) return list.status();
  for (const auto& c : list->at("conversations").as_array()) {
    const json::object& o = c.as_object();
    if (Str(o, "kind") != "direct") continue;
    for (const auto& m : o.at("members").as_array()) {
      if (m.is_string() && m.get_string() == target) return Str(o, "conversation_id");
    }
  }
  return NotFound("no conversation with " + target + " yet");
}

int RunRegister(Context& ctx, const std::string& user, PasswordSource pw,
                const std::string& display_name) {
  auto api = ctx.MakeApi();
  if (!api.ok()) return Fail("register", api.status());
  auto password = ReadPassword(pw);
  if (!password.ok()) return Fail("register", password.status());
  auto id = api->Register(user, *password, display_name);
  if (!id.ok()) return Fail("register", id.status());
  if (ctx.json) {
    PrintJson(json::object{{"user_id", *id}});
  } else {
    std::cout << "registered " << *id << "\n";
  }
  return kExitOk;
}

int RunLogin(Context& ctx, const std::string& user, PasswordSource pw, const std::string& device) {
  auto api = ctx.MakeApi();
  if (!api.ok()) return Fail("login", api.status());
  auto password = ReadPassword(pw);
  if (!password.ok()) return Fail("login", password.status());
  auto login = api->Login(user, *password, device.empty() ? "parley-cli" : device);
  if (!login.ok()) return Fail("login", login.status());
  ctx.config.server = ctx.server;
  ctx.config.user_id = login->user_id;
  ctx.config.token = login->token;
  ctx.config.expires_at = login->expires_at;
  if (Status s = SaveConfig(ctx.config_path, ctx.config); !s.ok()) return Fail("login", s);
  if (ctx.json) {
    PrintJson(json::object{{"user_id", login->user_id},
                           {"expires_at", login->expires_at},
                           {"config", ctx.config_path}});
  } else {
    std::cout << "logged in as " << login->user_id << " (session saved in " << ctx.config_path
              << ")\n";
  }
  return kExitOk;
}

int RunLogout(Context& ctx) {
  auto api = ctx.AuthedApi();
  if (!api.ok()) return Fail("logout", api.status());
  Status s = api->Logout();
  // The local session goes whatever the server said (it may be expired already).
  ctx.config.token.clear();
  ctx.config.user_id.clear();
  ctx.config.expires_at = 0;
  if (Status saved = SaveConfig(ctx.config_path, ctx.config); !saved.ok())
    return Fail("logout", saved);
  if (!s.ok() && s.code() != Code::kUnauthorized) return Fail("logout", s);
  if (ctx.json) {
    PrintJson(json::object{{"logged_out", true}});
  } else {
    std::cout << "logged out\n";
  }
  return kExitOk;
}

int RunConversations(Context& ctx) {
  auto api = ctx.AuthedApi();
  if (!api.ok()) return Fail("conversations", api.status());
  auto list = api->Conversations();
  if (!list.ok()) return Fail("conversations", list.status());
  if (ctx.json) {
    PrintJson(*list);
    return kExitOk;
  }
  for (const auto& c : list->at("conversations").as_array()) {
    const json::object& o = c.as_object();
    std::cout << Str(o, "conversation_id") << "  " << Str(o, "kind") << "  " << Members(o)
              << "  unread " << Int(o, "unread_count");
    if (auto* last = o.if_contains("last_message"); last && last->is_object()) {
      std::cout << "  " << FormatFrame(last->get_object());
    }
    std::cout << "\n";
  }
  return kExitOk;
}

// Sends with `send(client_msg_id)`, retrying overload and outages with backoff
// under the same client_msg_id (the server stores it at most once), and
// prints the ack.
int SendReliably(Context& ctx, const char* what,
                 const std::function<Result<json::value>(const std::string&)>& send) {
  std::string id = RandomId();
  Backoff backoff(BackoffOptions{std::chrono::milliseconds(200), std::chrono::seconds(5), 5});
  while (true) {
    auto ack = send(id);
    if (ack.ok()) {
      if (ctx.json) {
        PrintJson(*ack);
      } else {
        std::cout << "sent to " << Str(ack->as_object(), "conversation_id") << " #"
                  << Int(ack->as_object(), "seq") << "\n";
      }
      return kExitOk;
    }
    Code code = ack.status().code();
    auto delay = backoff.Next(std::chrono::milliseconds(ack.status().retry_after_ms()));
    if ((code != Code::kUnavailable && code != Code::kRateLimited) || !delay) {
      return Fail(what, ack.status());
    }
    std::this_thread::sleep_for(*delay);
  }
}

bool IsConversationId(const std::string& target) { return target.find(':') != std::string::npos; }

int RunSend(Context& ctx, const std::string& target, const std::string& text,
            const std::string& type) {
  auto api = ctx.AuthedApi();
  if (!api.ok()) return Fail("send", api.status());
  bool conversation = IsConversationId(target);
  return SendReliably(ctx, "send", [&](const std::string& id) {
    return api->SendMessage(conversation ? "" : target, conversation ? target : "", text, type, id);
  });
}

int RunHistory(Context& ctx, const std::string& target, int limit, uint64_t before,
               uint64_t after) {
  auto api = ctx.AuthedApi();
  if (!api.ok()) return Fail("history", api.status());
  auto conversation = ResolveConversation(*api, target);
  if (!conversation.ok()) return Fail("history", conversation.status());
  auto page = api->History(*conversation, HistoryQuery{before, after, limit});
  if (!page.ok()) return Fail("history", page.status());
  if (ctx.json) {
    PrintJson(*page);
    return kExitOk;
  }
  for (const auto& m : page->at("messages").as_array())
    std::cout << FormatFrame(m.as_object()) << "\n";
  return kExitOk;
}

int RunGroupCreate(Context& ctx, const std::string& name, const std::vector<std::string>& members,
                   bool channel) {
  auto api = ctx.AuthedApi();
  if (!api.ok()) return Fail("group create", api.status());
  auto id = api->CreateGroup(name, members, channel ? "channel" : "group");
  if (!id.ok()) return Fail("group create", id.status());
  if (ctx.json) {
    PrintJson(json::object{{"conversation_id", *id}});
  } else {
    std::cout << "created " << (channel ? "channel " : "group ") << *id << "\n";
  }
  return kExitOk;
}

int RunGroupMember(Context& ctx, const std::string& conversation, const std::string& user,
                   bool add) {
  const char* what = add ? "group add" : "group remove";
  auto api = ctx.AuthedApi();
  if (!api.ok()) return Fail(what, api.status());
  auto r = add ? api->AddMember(conversation, user) : api->RemoveMember(conversation, user);
  if (!r.ok()) return Fail(what, r.status());
  if (ctx.json) {
    PrintJson(*r);
  } else {
    std::cout << (add ? "added " : "removed ") << user << (add ? " to " : " from ") << conversation
              << "\n";
  }
  return kExitOk;
}

int RunGroupShow(Context& ctx, const std::string& conversation) {
  auto api = ctx.AuthedApi();
  if (!api.ok()) return Fail("group show", api.status());
  auto r = api->GetGroup(conversation);
  if (!r.ok()) return Fail("group show", r.status());
  if (ctx.json) {
    PrintJson(*r);
    return kExitOk;
  }
  const json::object& g = r->as_object();
  std::cout << Str(g, "name") << " (" << Str(g, "kind") << ")\n";
  if (auto* members = g.if_contains("members"); members && members->is_array()) {
    for (const auto& m : members->get_array()) {
      std::cout << "  " << Str(m.as_object(), "user_id") << "  " << Str(m.as_object(), "role")
                << "\n";
    }
  }
  return kExitOk;
}

int RunUpload(Context& ctx, const std::string& path, const std::string& content_type,
              const std::string& to) {
  auto api = ctx.AuthedApi();
  if (!api.ok()) return Fail("upload", api.status());
  std::string type = content_type.empty() ? GuessContentType(path) : content_type;
  auto r = api->UploadFile(path, type);
  if (!r.ok()) {
    Status s = r.status();
    if (s.code() == Code::kNotFound) {
      return Fail("upload", NotFound(s.message() + " — this server does not accept media uploads"));
    }
    return Fail("upload", s);
  }
  const json::object& media = r->as_object();
  if (to.empty()) {
    if (ctx.json) {
      PrintJson(*r);
    } else {
      std::cout << "uploaded " << Str(media, "media_id") << " (" << Int(media, "size")
                << " bytes)\n";
    }
    return kExitOk;
  }
  // Images are shown as such; anything else is a file, captioned with its name.
  bool image = Str(media, "content_type").rfind("image/", 0) == 0;
  std::string caption = image ? "" : path.substr(path.find_last_of('/') + 1);
  bool conversation = IsConversationId(to);
  return SendReliably(ctx, "upload", [&](const std::string& id) {
    return api->SendMedia(conversation ? "" : to, conversation ? to : "", caption,
                          image ? "image" : "file", id, Str(media, "media_id"));
  });
}

}  // namespace parley::client::cli
