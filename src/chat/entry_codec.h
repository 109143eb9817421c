// Stored entries as the `message` and `event` frames of the protocol. One
// serialization per entry is shared by every recipient, history and sync.
#pragma once

#include <string>

#include "store/store.h"

namespace parley::chat {

std::string EncodeEntry(const store::EntryRecord& entry);

}  // namespace parley::chat
