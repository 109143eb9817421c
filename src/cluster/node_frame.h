// The wire format between nodes (the internal port), encoded by the router
// and links and decoded by InternalService:
//   {"op":"deliver","items":[{"users":[…],"frame":"<server frame>","version":N,
//                            "conversation_id":"…","seq":N,"changes_members":true}, …]}
// conversation_id and seq only for entries of a conversation's stream.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "directory/session_directory.h"

namespace parley::cluster {

inline constexpr std::string_view kDeliverFrameStart = R"({"op":"deliver","items":[)";
inline constexpr std::string_view kDeliverFrameEnd = "]}";

// One item: `frame` for `users` (their sessions on the receiving node).
std::string EncodeDeliverItem(const directory::RemoteFrame& frame,
                              const std::vector<std::string>& users);
// A whole deliver frame. BadRequest naming the problem for any invalid item
// (nothing of the frame is to be delivered then); frames inside items are
// limited to `max_item_frame_bytes`.
Result<std::vector<directory::RemoteFrame>> DecodeDeliverFrame(std::string_view text,
                                                               size_t max_item_frame_bytes);

}  // namespace parley::cluster
