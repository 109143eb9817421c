// Per-conversation ordering and deduplication of received frames.
//
// The server numbers each conversation's stream with `seq`; delivery is
// at-least-once. OrderingBuffer releases each conversation's frames strictly
// in seq order, exactly once: a frame at or below the conversation's
// watermark, already held, or whose message_id was released before is
// dropped; a frame above watermark+1 is held until the missing seqs arrive
// (from sync, live delivery or a history request) or are declared invisible
// with SkipTo (history showed nothing there for this user).
//
// A conversation seen for the first time starts at the seq of its first frame:
// the server sends a session each conversation's frames in order starting with
// the first one it may see, and a client that knew the conversation has a
// watermark for it (restored with SetWatermark).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace parley::client {

struct Sequenced {
  std::string conversation_id;
  uint64_t seq = 0;
  std::string message_id;     // empty for events
  boost::json::object frame;  // the frame as received
};

// The last N message ids, for dropping duplicates in O(1).
class RecentIds {
 public:
  explicit RecentIds(size_t capacity) : capacity_(capacity) {}
  bool Contains(const std::string& id) const { return set_.count(id) != 0; }
  void Add(const std::string& id);

 private:
  size_t capacity_;
  std::deque<std::string> order_;
  std::unordered_set<std::string> set_;
};

class OrderingBuffer {
 public:
  explicit OrderingBuffer(size_t recent_ids = 100'000) : recent_(recent_ids) {}

  // Takes a received frame; returns the frames now releasable, in order.
  std::vector<Sequenced> Offer(Sequenced item);
  // Declares seqs up to `seq` of `conversation` invisible or already handled:
  // advances the watermark and returns what that releases.
  std::vector<Sequenced> SkipTo(const std::string& conversation, uint64_t seq);

  // Restores a persisted watermark (the highest seq released).
  void SetWatermark(const std::string& conversation, uint64_t seq);
  // 0 when the conversation is unknown.
  uint64_t Watermark(const std::string& conversation) const;
  bool Knows(const std::string& conversation) const { return watermarks_.count(conversation) != 0; }
  const std::map<std::string, uint64_t>& watermarks() const { return watermarks_; }

  // Conversations waiting for missing seqs, with their watermarks (what a
  // history request should ask for: after_seq = watermark).
  std::vector<std::pair<std::string, uint64_t>> Gaps() const;
  // The lowest held seq of `conversation`, if any.
  std::optional<uint64_t> FirstHeld(const std::string& conversation) const;
  size_t held() const;
  uint64_t duplicates() const { return duplicates_; }

 private:
  std::vector<Sequenced> Drain(const std::string& conversation);

  std::map<std::string, uint64_t> watermarks_;
  std::map<std::string, std::map<uint64_t, Sequenced>> held_;
  RecentIds recent_;
  uint64_t duplicates_ = 0;
};

}  // namespace parley::client
