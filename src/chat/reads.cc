// Reads of conversation streams: sync by version cursor, history pages and the
// conversation list. Every read checks what the caller may see: its
// membership's visible seq range [joined_seq, left_seq].
#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>

#include "chat/chat_service.h"
#include "chat/entry_codec.h"

namespace parley::chat {
namespace json = boost::json;
namespace {

constexpr size_t kUnreadScanCap = 999;  // unread counts above this read as 999

bool Visible(const store::MemberRecord& m, uint64_t seq) {
  return seq >= m.joined_seq && (m.left_seq == 0 || seq <= m.left_seq);
}

}  // namespace

Result<store::MemberRecord> ChatService::ReadableMembership(const std::string& user_id,
                                                            const std::string& conversation_id) {
  auto member = store_.GetMember(conversation_id, user_id);
  if (member.ok() || member.status().code() != Code::kNotFound) return member;
  auto pair = DirectMembers(conversation_id);
  if (pair && (pair->first == user_id || pair->second == user_id)) {
    return NotFound("no messages in this conversation yet");
  }
  // The same answer whether or not the conversation exists.
  return Forbidden("not a member of this conversation");
}

void ChatService::Sync(std::string user_id, std::string cursor,
                       std::function<void(Result<SyncPage>)> done) {
  auto after = ParseCursor(cursor);
  if (!after.ok()) return done(after.status());
  readers_.Post([this, user_id = std::move(user_id), after = *after, done = std::move(done)] {
    done(SyncNow(user_id, after));
  });
}

Result<SyncPage> ChatService::SyncNow(const std::string& user_id, uint64_t after_version) {
  // Everything up to `snapshot` is indexed and readable; later commits arrive
  // live or next time. Only conversations whose version moved are read.
  uint64_t snapshot = applied_version_.load();
  if (options_.shared_store) {  // other nodes commit too
    auto shared = store_.SharedCommittedVersion();
    if (!shared.ok()) return shared.status();
    snapshot = *shared;
  }
  auto memberships_or = Memberships(user_id);
  if (!memberships_or.ok()) return memberships_or.status();
  const auto& memberships = *memberships_or;
  const size_t limit = options_.sync_page_limit;
  std::vector<std::pair<uint64_t, std::string>> changed;  // (version, frame)
  for (const store::MemberRecord& m : *memberships) {
    if (ConversationVersion(m.conversation_id) <= after_version) continue;
    auto conversation = store_.GetConversation(m.conversation_id);
    if (!conversation.ok()) return conversation.status();
    auto entries = store_.ReadSinceVersion(m.conversation_id, after_version, limit + 1);
    if (!entries.ok()) return entries.status();
    auto hidden = HiddenSeqs(user_id, m.conversation_id, after_version, snapshot, changed);
    if (!hidden.ok()) return hidden.status();
    for (auto& e : *entries) {
      if (e.version <= snapshot && Visible(m, e.seq) && !hidden->count(e.seq)) {
        changed.emplace_back(e.version, EncodeEntry(e));
      }
    }
    if (m.current()) {
      PARLEY_RETURN_IF_ERROR(
          AppendReceiptFrames(user_id, *conversation, after_version, snapshot, changed));
    }
  }
  std::sort(changed.begin(), changed.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  SyncPage page;
  page.more = changed.size() > limit;
  if (page.more) {
    // Cut between versions: a receipt shares its version with its two frames.
    uint64_t cut = changed[limit - 1].first;
    while (!changed.empty() && changed.back().first > cut) changed.pop_back();
  }
  page.cursor = page.more ? changed.back().first : std::max(snapshot, after_version);
  page.frames.reserve(changed.size());
  for (auto& [version, frame] : changed) page.frames.push_back(std::move(frame));
  return page;
}

Status ChatService::AppendReceiptFrames(const std::string& viewer,
                                        const store::ConversationRecord& conv, uint64_t after,
                                        uint64_t snapshot,
                                        std::vector<std::pair<uint64_t, std::string>>& out) {
  auto receipts = store_.ListReceipts(conv.conversation_id);
  if (!receipts.ok()) return receipts.status();
  bool others_visible = conv.kind == store::ConversationKind::kDirect ||
                        (conv.kind == store::ConversationKind::kGroup &&
                         conv.member_count <= options_.receipt_fanout_limit);
  for (const store::ReceiptRecord& r : *receipts) {
    if (r.version <= after || r.version > snapshot) continue;
    if (r.user_id != viewer && (!others_visible || relations_.Blocks(r.user_id, viewer))) continue;
    out.emplace_back(r.version, EncodeReceipt(r, "delivered"));
    out.emplace_back(r.version, EncodeReceipt(r, "read"));
  }
  return Status::Ok();
}

Result<std::set<uint64_t>> ChatService::HiddenSeqs(
    const std::string& user_id, const std::string& conversation_id, uint64_t after,
    uint64_t snapshot, std::vector<std::pair<uint64_t, std::string>>& out) {
  auto hidden = store_.ListHidden(conversation_id, user_id);
  if (!hidden.ok()) return hidden.status();
  std::set<uint64_t> seqs;
  for (const store::HiddenRecord& h : *hidden) {
    seqs.insert(h.seq);
    if (h.version > after && h.version <= snapshot) out.emplace_back(h.version, EncodeHidden(h));
  }
  return seqs;
}

void ChatService::History(std::string user_id, std::string conversation_id, uint64_t before_seq,
                          std::optional<uint64_t> after_seq, size_t limit,
                          std::function<void(Result<std::vector<std::string>>)> done) {
  readers_.Post([=, this, done = std::move(done)] {
    done(HistoryNow(user_id, conversation_id, before_seq, after_seq, limit));
  });
}

Result<std::vector<std::string>> ChatService::HistoryNow(const std::string& user_id,
                                                         const std::string& conversation_id,
                                                         uint64_t before_seq,
                                                         std::optional<uint64_t> after_seq,
                                                         size_t limit) {
  auto m = ReadableMembership(user_id, conversation_id);
  if (!m.ok()) {
    if (m.status().code() == Code::kNotFound) return std::vector<std::string>{};
    return m.status();
  }
  uint64_t lo = std::max(after_seq.value_or(0), m->joined_seq > 0 ? m->joined_seq - 1 : 0);
  uint64_t hi = before_seq;
  if (m->left_seq != 0) hi = hi == 0 ? m->left_seq + 1 : std::min(hi, m->left_seq + 1);
  // No lower bound asked: the newest page; else the oldest page above it.
  auto entries = store_.ReadEntries(conversation_id, lo, hi, limit, !after_seq.has_value());
  if (!entries.ok()) return entries.status();
  auto hidden = store_.ListHidden(conversation_id, user_id);  // "deleted for me"
  if (!hidden.ok()) return hidden.status();
  std::set<uint64_t> hidden_seqs;
  for (const auto& h : *hidden) hidden_seqs.insert(h.seq);
  std::vector<std::string> frames;
  frames.reserve(entries->size());
  for (const auto& e : *entries) {
    if (!hidden_seqs.count(e.seq)) frames.push_back(EncodeEntry(e));
  }
  return frames;
}

void ChatService::ListConversations(std::string user_id,
                                    std::function<void(Result<std::string>)> done) {
  readers_.Post([this, user_id = std::move(user_id), done = std::move(done)] {
    done(ListConversationsNow(user_id));
  });
}

Result<std::string> ChatService::ListConversationsNow(const std::string& user_id) {
  auto memberships = store_.ListUserConversations(user_id);
  if (!memberships.ok()) return memberships.status();
  json::array list;
  for (const store::MemberRecord& m : *memberships) {
    if (!m.current()) continue;
    auto c = store_.GetConversation(m.conversation_id);
    if (!c.ok()) return c.status();
    json::object item{{"conversation_id", c->conversation_id},
                      {"kind", store::KindName(c->kind)},
                      {"last_seq", c->last_seq}};
    if (c->kind == store::ConversationKind::kDirect) {
      auto pair = DirectMembers(c->conversation_id);
      item["members"] = json::array{json::string(pair->first), json::string(pair->second)};
    } else {
      item["name"] = c->name;
      item["member_count"] = c->member_count;
    }
    if (c->disappear_after_s > 0) item["disappear_after_s"] = c->disappear_after_s;
    auto receipts = store_.ListReceipts(c->conversation_id);
    if (!receipts.ok()) return receipts.status();
    uint64_t read_seq = 0;
    store::ReceiptRecord peer;
    for (const auto& r : *receipts) {
      if (r.user_id == user_id) read_seq = r.read_seq;
      else if (!relations_.Blocks(r.user_id, user_id)) peer = r;
    }
    uint64_t from = std::max(read_seq, m.joined_seq > 0 ? m.joined_seq - 1 : 0);
    auto unread = store_.ReadEntries(c->conversation_id, from, 0, kUnreadScanCap, false);
    if (!unread.ok()) return unread.status();
    size_t count = std::count_if(unread->begin(), unread->end(), [&](const auto& e) {
      return !e.is_event && e.sender != user_id;
    });
    item["read_seq"] = read_seq;
    item["unread_count"] = count;
    auto last = store_.ReadEntries(c->conversation_id, m.joined_seq > 0 ? m.joined_seq - 1 : 0, 0,
                                   1, true);
    if (!last.ok()) return last.status();
    item["last_message"] = last->empty() ? json::value(nullptr) : json::parse(EncodeEntry(last->front()));
    if (c->kind == store::ConversationKind::kDirect) {
      item["peer_delivered_seq"] = peer.delivered_seq;
      item["peer_read_seq"] = peer.read_seq;
    }
    list.push_back(std::move(item));
  }
  return json::serialize(list);
}

}  // namespace parley::chat
