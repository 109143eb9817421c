#include "chat/entry_codec.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/ids.h"

namespace parley::chat {
namespace json = boost::json;

namespace {

json::object Counts(const std::map<std::string, uint32_t>& reactions) {
  json::object counts;
  for (const auto& [emoji, count] : reactions) counts[emoji] = count;
  return counts;
}

// The lifecycle fields of an event (edited, deleted, reaction, reactions, settings_changed).
void AddLifecycleFields(const store::EntryRecord& e, json::object& o) {
  if (e.message_id != 0) o["message_id"] = std::to_string(e.message_id);
  if (e.kind == "edited") {
    o["content"] = e.content;
    o["edited_at"] = e.ts;
    if (e.deleted) o["deleted"] = true;  // its message was deleted since: the text is gone
  }
  if (e.kind == "reaction") o["emoji"] = e.emoji;
  if (e.kind == "reaction" || e.kind == "reactions") o["reactions"] = Counts(e.reactions);
  if (e.disappear_after_s >= 0) o["disappear_after_s"] = e.disappear_after_s;
}

}  // namespace

std::string EncodeEntry(const store::EntryRecord& e) {
  json::object o;
  if (e.is_event) {
    o = {{"op", "event"},
         {"conversation_id", e.conversation_id},
         {"seq", e.seq},
         {"ts", e.ts},
         {"kind", e.kind}};
    if (!e.actor.empty()) o["actor"] = e.actor;  // aggregated reaction counts have none
    if (!e.user_id.empty()) o["user_id"] = e.user_id;
    if (!e.name.empty()) o["name"] = e.name;
    if (!e.role.empty()) o["role"] = e.role;
    if (!e.posting.empty()) o["posting"] = e.posting;
    if (!e.promoted.empty()) o["promoted"] = e.promoted;
    AddLifecycleFields(e, o);
    return json::serialize(o);
  }
  o = {{"op", "message"},       {"conversation_id", e.conversation_id},
       {"seq", e.seq},          {"message_id", std::to_string(e.message_id)},
       {"sender", e.sender},    {"ts", e.ts},
       {"type", e.type},        {"content", e.content},
       {"client_msg_id", e.client_msg_id}};
  if (!e.media_id.empty()) o["media_id"] = e.media_id;
  if (e.media_width != 0) {  // an image whose size is known
    o["width"] = e.media_width;
    o["height"] = e.media_height;
  }
  if (!e.reply_to.empty()) {
    o["reply_to"] = e.reply_to;
    o["reply_sender"] = e.reply_sender;
    o["reply_preview"] = e.reply_preview;
  }
  if (e.edited_at != 0) o["edited_at"] = e.edited_at;
  if (e.deleted) o["deleted"] = true;
  if (!e.reactions.empty()) o["reactions"] = Counts(e.reactions);
  return json::serialize(o);
}

std::string EncodeHidden(const store::HiddenRecord& h) {
  return json::serialize(json::object{{"op", "hidden"},
                                      {"conversation_id", h.conversation_id},
                                      {"message_id", std::to_string(h.message_id)},
                                      {"seq", h.seq}});
}

std::string EncodeReceipt(const store::ReceiptRecord& r, std::string_view kind) {
  uint64_t seq = kind == "read" ? r.read_seq : r.delivered_seq;
  return json::serialize(json::object{{"op", "receipt"},
                                      {"conversation_id", r.conversation_id},
                                      {"user_id", r.user_id},
                                      {"kind", kind},
                                      {"up_to_seq", seq}});
}

store::ConversationKind KindOfConversation(std::string_view id) {
  if (IsChannelConversationId(id)) return store::ConversationKind::kChannel;
  if (IsGroupConversationId(id)) return store::ConversationKind::kGroup;
  return store::ConversationKind::kDirect;
}

}  // namespace parley::chat
