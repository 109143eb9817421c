#include "client/ordering.h"

namespace parley::client {

void RecentIds::Add(const std::string& id) {
  if (!set_.insert(id).second) return;
  order_.push_back(id);
  if (order_.size() > capacity_) {
    set_.erase(order_.front());
    order_.pop_front();
  }
}

std::vector<Sequenced> OrderingBuffer::Offer(Sequenced item) {
  const std::string conversation = item.conversation_id;
  auto known = watermarks_.find(conversation);
  if (known == watermarks_.end()) {
    known = watermarks_.emplace(conversation, item.seq > 0 ? item.seq - 1 : 0).first;
  }
  // A message_id seen before under another seq still takes its place in the
  // order (Drain consumes it without releasing it), so nothing stalls on it.
  auto& held = held_[conversation];
  if (item.seq <= known->second || held.count(item.seq) != 0) {
    ++duplicates_;
    if (held.empty()) held_.erase(conversation);
    return {};
  }
  held.emplace(item.seq, std::move(item));
  return Drain(conversation);
}

std::vector<Sequenced> OrderingBuffer::SkipTo(const std::string& conversation, uint64_t seq) {
  uint64_t& mark = watermarks_[conversation];
  if (seq > mark) mark = seq;
  auto held = held_.find(conversation);
  if (held != held_.end()) {
    // Held frames at or below the new watermark can no longer be released.
    auto& frames = held->second;
    duplicates_ += std::distance(frames.begin(), frames.upper_bound(mark));
    frames.erase(frames.begin(), frames.upper_bound(mark));
  }
  return Drain(conversation);
}

std::vector<Sequenced> OrderingBuffer::Drain(const std::string& conversation) {
  std::vector<Sequenced> out;
  auto it = held_.find(conversation);
  if (it == held_.end()) return out;
  uint64_t& mark = watermarks_[conversation];
  auto& frames = it->second;
  while (!frames.empty() && frames.begin()->first == mark + 1) {
    Sequenced item = std::move(frames.begin()->second);
    frames.erase(frames.begin());
    mark = item.seq;
    if (!item.message_id.empty()) {
      if (recent_.Contains(item.message_id)) {
        ++duplicates_;
        continue;
      }
      recent_.Add(item.message_id);
    }
    out.push_back(std::move(item));
  }
  if (frames.empty()) held_.erase(it);
  return out;
}

void OrderingBuffer::SetWatermark(const std::string& conversation, uint64_t seq) {
  watermarks_[conversation] = seq;
}

uint64_t OrderingBuffer::Watermark(const std::string& conversation) const {
  auto it = watermarks_.find(conversation);
  return it == watermarks_.end() ? 0 : it->second;
}

std::vector<std::pair<std::string, uint64_t>> OrderingBuffer::Gaps() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [conversation, frames] : held_) {
    if (!frames.empty()) out.emplace_back(conversation, Watermark(conversation));
  }
  return out;
}

std::optional<uint64_t> OrderingBuffer::FirstHeld(const std::string& conversation) const {
  auto it = held_.find(conversation);
  if (it == held_.end() || it->second.empty()) return std::nullopt;
  return it->second.begin()->first;
}

size_t OrderingBuffer::held() const {
  size_t n = 0;
  for (const auto& [conversation, frames] : held_) n += frames.size();
  return n;
}

}  // namespace parley::client
