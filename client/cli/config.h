// parley-cli's config file (TOML): the server and the session token.
//
//   server = "http://127.0.0.1:8080"
//   [session]
//   user_id = "alice"
//   token = "…"
//   expires_at = 1798425109278
//
// Written with mode 0600 (it holds a bearer token).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace parley::client::cli {

struct CliConfig {
  std::string server;
  std::string user_id;
  std::string token;
  int64_t expires_at = 0;
};

// $XDG_CONFIG_HOME/parley/cli.toml, else ~/.config/parley/cli.toml.
std::string DefaultConfigPath();
// A missing file is an empty config.
Result<CliConfig> LoadConfig(const std::string& path);
Status SaveConfig(const std::string& path, const CliConfig& config);
// Where the chat command keeps its client state for `user_id`.
std::string StatePathFor(const std::string& config_path, const std::string& user_id);

}  // namespace parley::client::cli
