// parley-cli's subcommands. Each returns the process exit code (output.h).
#pragma once

#include <string>
#include <vector>

#include "client/cli/output.h"

namespace parley::client::cli {

struct PasswordSource {
  std::string password;     // --password
  bool from_stdin = false;  // --password-stdin (also the default when stdin is not a tty)
};

int RunRegister(Context& ctx, const std::string& user, PasswordSource pw,
                const std::string& display_name);
int RunLogin(Context& ctx, const std::string& user, PasswordSource pw, const std::string& device);
int RunLogout(Context& ctx);
int RunConversations(Context& ctx);
int RunSend(Context& ctx, const std::string& target, const std::string& text,
            const std::string& type);
int RunHistory(Context& ctx, const std::string& target, int limit, uint64_t before, uint64_t after);
int RunGroupCreate(Context& ctx, const std::string& name, const std::vector<std::string>& members,
                   bool channel);
int RunGroupMember(Context& ctx, const std::string& conversation, const std::string& user,
                   bool add);
int RunGroupShow(Context& ctx, const std::string& conversation);
// Uploads a file; with `to` (a user or conversation id) also sends it as an
// image or file message.
int RunUpload(Context& ctx, const std::string& path, const std::string& content_type,
              const std::string& to);
int RunChat(Context& ctx, const std::string& target);  // chat.cc

// A conversation id as is, or the direct conversation with a user id.
Result<std::string> ResolveConversation(Api& api, const std::string& target);

}  // namespace parley::client::cli
