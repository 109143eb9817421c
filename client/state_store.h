// The client's persisted state: the sync cursor, the highest seq released to
// the application per conversation (so a restarted client neither loses nor
// repeats messages) and the outbox of sends not yet acknowledged. Stored as
// JSON, written to a temporary file and renamed over the old one (0600).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace parley::client {

struct ClientState {
  std::string cursor;                       // empty: sync from the start
  std::map<std::string, uint64_t> seqs;     // conversation_id → released watermark
  std::vector<boost::json::object> outbox;  // `send` frames awaiting their ack
};

// A missing file is an empty state; an unreadable or corrupt one is an error.
Result<ClientState> LoadState(const std::string& path);
Status SaveState(const std::string& path, const ClientState& state);

// Writes `contents` to `path` atomically with mode 0600 (creating parent
// directories with 0700). Shared with the CLI's config file.
Status WritePrivateFile(const std::string& path, const std::string& contents);

}  // namespace parley::client
