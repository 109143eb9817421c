// Stored entries as the `message` and `event` frames of the protocol. One
// serialization per entry is shared by every recipient, history and sync.
#pragma once

#include <string>

#include "store/store.h"

namespace parley::chat {

std::string EncodeEntry(const store::EntryRecord& entry);
// {"op":"hidden","conversation_id","message_id","seq"}: a message its owner deleted for itself.
std::string EncodeHidden(const store::HiddenRecord& h);
// {"op":"receipt","conversation_id","user_id","kind","up_to_seq"}
std::string EncodeReceipt(const store::ReceiptRecord& r, std::string_view kind);
// The kind a conversation id names (ids are made by the server).
store::ConversationKind KindOfConversation(std::string_view conversation_id);

}  // namespace parley::chat
