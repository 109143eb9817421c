#include "client/state_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace parley::client {
namespace json = boost::json;

Status WritePrivateFile(const std::string& path, const std::string& contents) {
  std::filesystem::path target(path);
  if (target.has_parent_path() && !std::filesystem::exists(target.parent_path())) {
    std::error_code ec;
    std::filesystem::create_directories(target.parent_path(), ec);
    if (ec) return Internal("cannot create " + target.parent_path().string() + ": " + ec.message());
    chmod(target.parent_path().c_str(), 0700);
  }
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("cannot write " + tmp + ": " + std::strerror(errno));
  fchmod(fd, 0600);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string err = std::strerror(errno);
      close(fd);
      return Internal("cannot write " + tmp + ": " + err);
    }
    done += static_cast<size_t>(n);
  }
  fsync(fd);
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return Internal("cannot rename " + tmp + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<ClientState> LoadState(const std::string& path) {
  ClientState state;
  std::ifstream in(path);
  if (!in) return state;
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value doc = json::parse(text.str(), ec);
  if (ec || !doc.is_object()) return Internal("corrupt client state file " + path);
  const json::object& o = doc.get_object();
  if (auto* c = o.if_contains("cursor"); c && c->is_string()) state.cursor = c->get_string();
  if (auto* s = o.if_contains("seqs"); s && s->is_object()) {
    for (const auto& [conversation, seq] : s->get_object()) {
      if (seq.is_int64() && seq.get_int64() >= 0) state.seqs[conversation] = seq.get_int64();
      if (seq.is_uint64()) state.seqs[conversation] = seq.get_uint64();
    }
  }
  if (auto* b = o.if_contains("outbox"); b && b->is_array()) {
    for (const json::value& item : b->get_array()) {
      if (item.is_object()) state.outbox.push_back(item.get_object());
    }
  }
  return state;
}

Status SaveState(const std::string& path, const ClientState& state) {
  json::object seqs;
  for (const auto& [conversation, seq] : state.seqs) seqs[conversation] = seq;
  json::array outbox;
  for (const json::object& frame : state.outbox) outbox.push_back(frame);
  json::object doc{{"version", 1},
                   {"cursor", state.cursor},
                   {"seqs", std::move(seqs)},
                   {"outbox", std::move(outbox)}};
  return WritePrivateFile(path, json::serialize(doc) + "\n");
}

}  // namespace parley::client
