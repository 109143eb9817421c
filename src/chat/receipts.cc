#include "chat/receipts.h"

#include "chat/entry_codec.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <future>

namespace parley::chat {
namespace {

constexpr size_t kMaxTrackedPerConversation = 256;
constexpr size_t kMaxTrackedConversations = 50'000;


}  // namespace

ReceiptService::ReceiptService(store::Store& store, directory::SessionDirectory& directory,
                               Relations& relations, const Clock& clock, MetricsRegistry& metrics,
                               ReceiptOptions options)
    : store_(store),
      directory_(directory),
      relations_(relations),
      clock_(clock),
      options_(options),
      frames_in_(metrics.AddCounter("parley_receipt_frames_total", "receipt frames received")),
      store_writes_(metrics.AddCounter("parley_receipt_store_writes_total",
                                       "receipt watermarks written to the store")),
      forwarded_(metrics.AddCounter("parley_receipt_forwarded_total", "receipt frames forwarded")) {
  const char* kinds[] = {"direct", "group", "channel"};
  for (int i = 0; i < 3; ++i) {
    delivered_latency_[i] = &metrics.AddHistogram(
        "parley_e2e_delivered_seconds", "From a message's ack to the first delivered receipt covering it",
        LatencyBuckets(), std::string("kind=\"") + kinds[i] + "\"");
  }
  thread_ = std::thread([this] { Run(); });
}

ReceiptService::~ReceiptService() { Stop(); }

void ReceiptService::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  Flush();
}

Status ReceiptService::Record(const std::string& user_id, const std::string& conversation_id,
                              const std::string& kind, uint64_t up_to_seq) {
  frames_in_.Inc();
  auto member = store_.GetMember(conversation_id, user_id);
  if (!member.ok() || !member->current()) return Forbidden("not a member of this conversation");
  std::lock_guard lock(mu_);
  Pending& p = pending_[{conversation_id, user_id}];
  p.delivered = std::max(p.delivered, up_to_seq);
  if (kind == "read") p.read = std::max(p.read, up_to_seq);
  return Status::Ok();
}

void ReceiptService::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(options_.flush_ms));
    if (stopping_) break;
    lock.unlock();
    Flush();
    lock.lock();
  }
}

void ReceiptService::Flush() {
  std::map<std::pair<std::string, std::string>, Pending> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
  }
  if (batch.empty()) return;
  // All writes go to the committer at once (one group commit for the lot);
  // forwarding happens here afterwards, never on the committer thread.
  std::vector<std::future<Result<store::AppendResult>>> writes;
  for (auto& [key, p] : batch) {
    store::AppendRequest r;
    r.entry.conversation_id = key.first;
    r.receipt = store::ReceiptRecord{key.first, key.second, p.delivered, p.read, 0, clock_.NowMs()};
    auto done = std::make_shared<std::promise<Result<store::AppendResult>>>();
    writes.push_back(done->get_future());
    store_.Append(std::move(r), [this, done](Result<store::AppendResult> result) {
      if (result.ok() && result->changed && commit_hook_) {
        commit_hook_(result->receipt->conversation_id, result->receipt->version);
      }
      done->set_value(std::move(result));
    });
  }
  for (auto& w : writes) {
    Result<store::AppendResult> result = w.get();
    if (!result.ok()) {
      if (result.status().code() != Code::kForbidden) {  // left meanwhile: nothing to do
        spdlog::warn("event=receipt_write_failed error=\"{}\"", result.status().ToString());
      }
      continue;
    }
    if (!result->changed) continue;  // a lower or equal watermark: ignored, not an error
    store_writes_.Inc();
    ObserveDelivered(*result->receipt);
    Forward(*result->receipt);
  }
}

std::vector<std::string> ReceiptService::Audience(const store::ConversationRecord& c,
                                                  const std::string& owner) {
  std::vector<std::string> out{owner};  // the owner's other devices keep their unread state
  if (c.kind == store::ConversationKind::kChannel) return out;
  if (c.kind == store::ConversationKind::kGroup && c.member_count > options_.fanout_limit) return out;
  std::string after;
  for (;;) {
    auto page = store_.ListMembers(c.conversation_id, after, 1000);
    if (!page.ok()) return out;
    for (const auto& m : *page) {
      if (m.user_id != owner && !relations_.Blocks(owner, m.user_id)) out.push_back(m.user_id);
    }
    if (page->size() < 1000) return out;
    after = page->back().user_id;
  }
}

void ReceiptService::Forward(const store::ReceiptRecord& after) {
  auto c = store_.GetConversation(after.conversation_id);
  if (!c.ok()) return;
  // Both watermarks are sent: a client that missed one frame converges anyway. They carry the
  // receipt's store version, like the frames `sync` returns for it: a session mid-sync drops
  // them when the sync has them, and a waiting long-poll (GET /v1/sync) wakes up for them.
  auto delivered = std::make_shared<const std::string>(EncodeReceipt(after, "delivered"));
  auto read = std::make_shared<const std::string>(EncodeReceipt(after, "read"));
  const std::vector<std::string> audience = Audience(*c, after.user_id);
  forwarded_.Inc(directory_.SendToUsers(audience, delivered, after.version));
  forwarded_.Inc(directory_.SendToUsers(audience, read, after.version));
}

void ReceiptService::MessageStored(const store::EntryRecord& entry, store::ConversationKind kind) {
  std::lock_guard lock(latency_mu_);
  if (sent_.size() >= kMaxTrackedConversations && !sent_.count(entry.conversation_id)) return;
  auto& [k, queue] = sent_[entry.conversation_id];
  k = kind;
  if (queue.size() >= kMaxTrackedPerConversation) queue.pop_front();
  queue.push_back({entry.seq, clock_.SteadyMs(), entry.sender});
}

void ReceiptService::ObserveDelivered(const store::ReceiptRecord& r) {
  int64_t now = clock_.SteadyMs();
  std::lock_guard lock(latency_mu_);
  auto it = sent_.find(r.conversation_id);
  if (it == sent_.end()) return;
  auto& [kind, queue] = it->second;
  // The first delivered receipt from someone other than the sender covers it.
  for (auto m = queue.begin(); m != queue.end() && m->seq <= r.delivered_seq;) {
    if (m->sender == r.user_id) {
      ++m;
      continue;
    }
    delivered_latency_[static_cast<int>(kind)]->Observe((now - m->acked_ms) / 1000.0);
    m = queue.erase(m);
  }
  if (queue.empty()) sent_.erase(it);
}

}  // namespace parley::chat
