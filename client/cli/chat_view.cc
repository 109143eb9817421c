#include "client/cli/chat_view.h"

#include <boost/json/array.hpp>
#include <sstream>

#include "client/cli/commands.h"
#include "client/cli/output.h"

namespace parley::client::cli {
namespace json = boost::json;

Result<ChatView> ChatView::Make(Api& api, std::string self, const std::string& target) {
  ChatView view;
  view.self_ = std::move(self);
  auto list = api.Conversations();
  if (!list.ok()) return list.status();
  bool by_id = target.find(':') != std::string::npos;
  if (!by_id) view.peer_ = target;
  for (const auto& c : list->at("conversations").as_array()) {
    const json::object& o = c.as_object();
    bool direct = Str(o, "kind") == "direct";
    std::vector<std::string> members;
    if (auto* m = o.if_contains("members"); m && m->is_array()) {
      for (const auto& u : m->get_array()) members.emplace_back(u.as_string());
    }
    bool with_peer = direct && std::count(members.begin(), members.end(), target) > 0;
    if (by_id ? Str(o, "conversation_id") != target : !with_peer) continue;
    view.conversation_ = Str(o, "conversation_id");
    view.group_ = !direct;
    view.name_ = Str(o, "name");
    view.member_count_ = direct ? 2 : Int(o, "member_count");
    view.peer_delivered_ = Int(o, "peer_delivered_seq");
    view.peer_read_ = Int(o, "peer_read_seq");
    for (const auto& m : members) {
      if (m != view.self_) view.peer_ = m;
    }
  }
  if (by_id && view.conversation_.empty()) return Forbidden("you are not a member of " + target);
  if (!view.peer_.empty()) view.watch_ = {view.peer_};
  if (view.group_) {
    if (auto g = api.GetGroup(view.conversation_); g.ok()) {
      if (auto* m = g->as_object().if_contains("members"); m && m->is_array()) {
        for (const auto& u : m->get_array()) {
          std::string id = Str(u.as_object(), "user_id");
          if (id != view.self_ && view.watch_.size() < 50) view.watch_.push_back(id);
        }
      }
    }
  }
  return view;
}

std::string ChatView::Title() const {
  if (group_) {
    return "Group \"" + name_ + "\" (" + conversation_ + ", " + std::to_string(member_count_) +
           " members)";
  }
  return "Chat with " + peer_ + (conversation_.empty() ? " (new)" : " (" + conversation_ + ")");
}

std::string ChatView::Prompt() const {
  std::string typing;
  for (const auto& [user, until] : typing_) typing += (typing.empty() ? "" : ", ") + user;
  std::string prefix = typing.empty() ? "" : "[" + typing + " typing…] ";
  return prefix + self_ + "> ";
}

std::string ChatView::Help() {
  return "Type a line and press Enter to send it. Commands:\n"
         "  /history [N]  show the last N messages (default 20)\n"
         "  /members      show who is in this conversation\n"
         "  /read         mark everything shown as read\n"
         "  /help         this help\n"
         "  /quit         leave (Ctrl-D too); unsent messages stay queued\n"
         "Marks: ✓ stored by the server, ✓✓ delivered to / read by the others.";
}

std::string ChatView::DescribeMembers(const json::object& group) {
  std::string out = "members:";
  if (auto* m = group.if_contains("members"); m && m->is_array()) {
    for (const auto& u : m->get_array()) {
      const json::object& o = u.as_object();
      out += " " + Str(o, "user_id") + (Str(o, "role") == "admin" ? " (admin)" : "");
    }
  }
  return out;
}

std::vector<std::string> ChatView::ReceiptSummary() const {
  std::vector<std::string> out;
  if (group_ || peer_.empty()) return out;
  if (peer_read_ > 0) {
    out.push_back("  ✓✓ " + peer_ + " has read up to #" + std::to_string(peer_read_));
  } else if (peer_delivered_ > 0) {
    out.push_back("  ✓✓ delivered to " + peer_ + " up to #" + std::to_string(peer_delivered_));
  }
  return out;
}

bool ChatView::Mine(const Event& e) {
  if (e.conversation_id.empty()) return false;
  if (e.conversation_id == conversation_) return true;
  if (!conversation_.empty() || e.type != EventType::kMessage) return false;
  // A 1:1 chat that did not exist yet: our own first message, or the peer's.
  bool own = own_.count(Str(e.frame, "client_msg_id")) != 0;
  bool from_peer = Str(e.frame, "sender") == peer_ && e.conversation_id.rfind("d:", 0) == 0;
  if (!own && !from_peer) return false;
  conversation_ = e.conversation_id;
  return true;
}

std::string ChatView::Format(const json::object& frame) {
  std::string line = FormatFrame(frame);
  if (Str(frame, "op") == "message" && Str(frame, "sender") == self_) line += "  ✓";
  last_seq_ = std::max<uint64_t>(last_seq_, Int(frame, "seq"));
  return line;
}

std::vector<std::string> ChatView::OnSequenced(const Event& e) {
  if (!Mine(e)) {
    if (!live_ || e.type != EventType::kMessage || Str(e.frame, "sender") == self_) return {};
    return {"  (new message from " + Str(e.frame, "sender") + " in " + e.conversation_id + ")"};
  }
  if (e.seq <= last_seq_) return {};  // already shown (history at start)
  typing_.erase(Str(e.frame, "sender"));
  return {Format(e.frame)};
}

std::vector<std::string> ChatView::OnReceipt(const Event& e) {
  std::string user = Str(e.frame, "user_id"), kind = Str(e.frame, "kind");
  uint64_t seq = e.seq;
  if (!Mine(e) || user == self_) return {};
  uint64_t& known = receipts_[{user, kind}];
  if (seq <= known) return {};
  known = seq;
  if (kind == "read") return {"  ✓✓ read by " + user + " (up to #" + std::to_string(seq) + ")"};
  return {"  ✓✓ delivered to " + user + " (up to #" + std::to_string(seq) + ")"};
}

std::vector<std::string> ChatView::OnEvent(const Event& e, TimePoint now) {
  switch (e.type) {
    case EventType::kMessage:
    case EventType::kGroupEvent:
      return OnSequenced(e);
    case EventType::kReceipt:
      return OnReceipt(e);
    case EventType::kTyping: {
      std::string user = Str(e.frame, "user_id");
      if (!Mine(e) || user == self_) return {};
      if (Str(e.frame, "state") == "start") {
        typing_[user] = now + std::chrono::seconds(6);
      } else {
        typing_.erase(user);
      }
      return {};
    }
    case EventType::kPresence: {
      std::string user = Str(e.frame, "user_id");
      if (std::find(watch_.begin(), watch_.end(), user) == watch_.end()) return {};
      if (Str(e.frame, "status") == "online") return {"* " + user + " is online"};
      int64_t seen = Int(e.frame, "last_seen");
      return {"* " + user + " is offline" +
              (seen > 0 ? " (last seen " + FormatTime(seen) + ")" : "")};
    }
    case EventType::kConnected: {
      bool again = connected_once_;
      connected_once_ = true;
      outage_reported_ = false;
      return {again ? "* reconnected" : "* connected as " + Str(e.frame, "user_id")};
    }
    case EventType::kSynced:
      live_ = true;
      return {};
    case EventType::kAck:
      return {};
    case EventType::kSendFailed:
      return {"! message not sent: " + e.detail};
    case EventType::kDisconnected: {
      // One line per outage; the failed attempts after it stay quiet.
      live_ = false;
      if (outage_reported_) return {};
      outage_reported_ = true;
      return {"! " + e.detail + " — reconnecting…"};
    }
    case EventType::kReconnecting: {
      if (e.retry_in < std::chrono::seconds(5)) return {};
      std::ostringstream s;
      s.precision(1);
      s << std::fixed << "! still offline, next attempt in " << e.retry_in.count() / 1000.0 << " s";
      return {s.str()};
    }
    case EventType::kGaveUp:
      return {"! giving up: " + e.detail};
    case EventType::kError:
      return {"! " + e.detail};
  }
  return {};
}

void ChatView::ExpireTyping(TimePoint now) {
  std::erase_if(typing_, [&](const auto& entry) { return entry.second <= now; });
}

}  // namespace parley::client::cli
