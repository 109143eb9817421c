// What the interactive chat shows: which conversation it follows, how each
// client event is printed (✓ sent, ✓✓ delivered/read, typing, presence) and
// the prompt. Terminal-free, so chat.cc only moves lines to the screen.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/http_api.h"

namespace parley::client::cli {

class ChatView {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // `target`: a conversation id, or a user id for the 1:1 chat with them
  // (which may not exist yet: it is learned from the first message).
  static Result<ChatView> Make(Api& api, std::string self, const std::string& target);

  const std::string& conversation() const { return conversation_; }
  const std::string& peer() const { return peer_; }
  bool is_group() const { return group_; }
  uint64_t last_seq() const { return last_seq_; }
  // Users whose presence the chat shows.
  std::vector<std::string> watch() const { return watch_; }

  std::string Title() const;
  std::string Prompt() const;
  static std::string Help();
  static std::string DescribeMembers(const boost::json::object& group);
  // Receipt state known when the chat opens (1:1).
  std::vector<std::string> ReceiptSummary() const;

  // A message we sent from this chat (its client_msg_id).
  void ExpectOwn(const std::string& client_msg_id) { own_.insert(client_msg_id); }
  // Whether an event belongs to this chat (adopting the 1:1 conversation id).
  bool Mine(const Event& e);
  // A message or event line; own messages carry ✓ (stored).
  std::string Format(const boost::json::object& frame);
  // The lines to print for a client event.
  std::vector<std::string> OnEvent(const Event& e, TimePoint now);
  void ExpireTyping(TimePoint now);

 private:
  std::vector<std::string> OnSequenced(const Event& e);
  std::vector<std::string> OnReceipt(const Event& e);

  std::string self_, conversation_, peer_, name_;
  bool group_ = false;
  size_t member_count_ = 0;
  uint64_t last_seq_ = 0;
  uint64_t peer_delivered_ = 0, peer_read_ = 0;
  bool live_ = false, connected_once_ = false, outage_reported_ = false;
  std::vector<std::string> watch_;
  std::set<std::string> own_;
  std::map<std::string, TimePoint> typing_;                           // user → shown until
  std::map<std::pair<std::string, std::string>, uint64_t> receipts_;  // (user, kind) → seq
};

}  // namespace parley::client::cli
