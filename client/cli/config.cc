#include "client/cli/config.h"

#include <toml++/toml.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "client/state_store.h"

namespace parley::client::cli {

std::string DefaultConfigPath() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/parley/cli.toml";
  }
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.config/parley/cli.toml";
}

Result<CliConfig> LoadConfig(const std::string& path) {
  CliConfig config;
  if (!std::filesystem::exists(path)) return config;
  try {
    toml::table t = toml::parse_file(path);
    config.server = t["server"].value_or(std::string());
    config.user_id = t["session"]["user_id"].value_or(std::string());
    config.token = t["session"]["token"].value_or(std::string());
    config.expires_at = t["session"]["expires_at"].value_or(int64_t{0});
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "cannot read config " << path << ": " << e.description() << " (line "
        << e.source().begin.line << ")";
    return BadRequest(msg.str());
  }
  return config;
}

Status SaveConfig(const std::string& path, const CliConfig& config) {
  toml::table t;
  if (!config.server.empty()) t.insert("server", config.server);
  if (!config.token.empty()) {
    t.insert("session", toml::table{{"user_id", config.user_id},
                                    {"token", config.token},
                                    {"expires_at", config.expires_at}});
  }
  std::ostringstream out;
  out << "# parley-cli configuration (holds a session token: keep it private)\n" << t << "\n";
  return WritePrivateFile(path, out.str());
}

std::string StatePathFor(const std::string& config_path, const std::string& user_id) {
  std::filesystem::path dir = std::filesystem::path(config_path).parent_path();
  return (dir / ("state-" + user_id + ".json")).string();
}

}  // namespace parley::client::cli
