#include "cluster/node_frame.h"

#include <boost/json.hpp>

#include "protocol/json_util.h"

namespace parley::cluster {
namespace {

constexpr size_t kMaxIdBytes = 128;

Result<directory::RemoteFrame> DecodeItem(const boost::json::value& value, size_t max_frame_bytes) {
  const auto* item = value.if_object();
  if (item == nullptr) return BadRequest("each item must be an object");
  directory::RemoteFrame f;
  const auto* users = item->if_contains("users");
  if (users == nullptr || !users->is_array() || users->as_array().empty()) {
    return BadRequest("users must be a non-empty array");
  }
  for (const auto& u : users->as_array()) {
    if (!u.is_string() || u.as_string().empty() || u.as_string().size() > kMaxIdBytes) {
      return BadRequest("users must hold user ids");
    }
    f.users.emplace_back(u.as_string());
  }
  auto frame = protocol::GetString(*item, "frame", /*required=*/true, max_frame_bytes);
  if (!frame.ok()) return frame.status();
  if (frame->empty()) return BadRequest("frame must not be empty");
  f.frame = std::make_shared<const std::string>(std::move(*frame));
  auto version = protocol::GetUint(*item, "version", /*required=*/false);
  if (!version.ok()) return version.status();
  f.version = *version;
  auto conversation = protocol::GetString(*item, "conversation_id", false, kMaxIdBytes);
  if (!conversation.ok()) return conversation.status();
  auto seq = protocol::GetUint(*item, "seq", /*required=*/false);
  if (!seq.ok()) return seq.status();
  if (conversation->empty() != (*seq == 0)) {
    return BadRequest("conversation_id and seq come together");
  }
  f.conversation_id = std::move(*conversation);
  f.seq = *seq;
  auto changes = protocol::GetBool(*item, "changes_members");
  if (!changes.ok()) return changes.status();
  f.changes_members = changes->value_or(false);
  if (f.changes_members && f.seq == 0) {
    return BadRequest("changes_members only comes with an entry (conversation_id and seq)");
  }
  return f;
}

}  // namespace

std::string EncodeDeliverItem(const directory::RemoteFrame& frame, const std::vector<std::string>& users) {
  boost::json::array to;
  to.reserve(users.size());
  for (const std::string& u : users) to.emplace_back(u);
  boost::json::object item{{"users", std::move(to)},
                           {"frame", *frame.frame},
                           {"version", frame.version}};
  if (frame.seq != 0) {
    item["conversation_id"] = frame.conversation_id;
    item["seq"] = frame.seq;
    if (frame.changes_members) item["changes_members"] = true;
  }
  return boost::json::serialize(item);
}

Result<std::vector<directory::RemoteFrame>> DecodeDeliverFrame(std::string_view text,
                                                               size_t max_item_frame_bytes) {
  auto doc = protocol::ParseObject(text);
  if (!doc.ok()) return doc.status();
  auto op = protocol::GetString(*doc, "op", /*required=*/true, 16);
  if (!op.ok()) return op.status();
  if (*op != "deliver") return BadRequest("unknown op: only deliver is accepted here");
  const auto* items = doc->if_contains("items");
  if (items == nullptr || !items->is_array()) return BadRequest("items must be an array");
  std::vector<directory::RemoteFrame> frames;
  frames.reserve(items->as_array().size());
  for (const auto& item : items->as_array()) {
    auto f = DecodeItem(item, max_item_frame_bytes);
    if (!f.ok()) return f.status();
    frames.push_back(std::move(*f));
  }
  return frames;
}

}  // namespace parley::cluster
