// The send pipeline: resolve the target conversation, append through the
// store (which sequences, checks membership and idempotency atomically and
// makes it durable), then ack and fan out in seq order.
#include "chat/chat_service.h"
#include "chat/entry_codec.h"

#include <spdlog/spdlog.h>

namespace parley::chat {

namespace {
void FillEntry(store::AppendRequest& r, const SendRequest& request, const std::string& conv,
               uint64_t message_id, int64_t now, int64_t window_ms) {
  const protocol::SendFrame& f = request.frame;
  store::EntryRecord& e = r.entry;
  e.conversation_id = conv;
  e.ts = now;
  e.message_id = message_id;
  e.sender = request.sender;
  e.type = f.type;
  e.content = f.content;
  e.client_msg_id = f.client_msg_id;
  e.media_id = f.media_id;
  e.reply_to = f.reply_to;
  r.idempotent = true;
  r.idempotency_window_ms = window_ms;
}
}  // namespace

Status ChatService::AdmitSend(const std::string& user_id) {
  return send_limiter_.Admit(user_id, "sending too fast; slow down");
}

void ChatService::Send(SendRequest request, AckCallback done) {
  if (Status admitted = AdmitSend(request.sender); !admitted.ok()) return done(admitted);
  // Key the work by conversation so that one session's sends keep their order.
  std::string key = request.frame.conversation_id;
  if (key.empty()) {
    auto peer = NormalizeUserId(request.frame.to);
    if (!peer.ok()) return done(BadRequest("to is not a valid user id"));
    key = DirectConversationId(request.sender, *peer);
  }
  int64_t accepted_ms = clock_.SteadyMs();
  shards_.PostTo(key, [this, request = std::move(request), done = std::move(done),
                       accepted_ms]() mutable {
    auto resolved = Resolve(request);
    if (!resolved.ok()) return done(resolved.status());
    auto media = CheckMedia(request);
    if (!media.ok()) return done(media.status());
    std::string conversation_id = resolved->conversation_id;
    FillEntry(resolved->request, request, conversation_id, ids_.Next(), clock_.NowMs(),
              options_.idempotency_window_ms);
    resolved->request.push_outbox = options_.push_outbox;
    resolved->request.entry.media_width = media->width;
    resolved->request.entry.media_height = media->height;
    store_.Append(std::move(resolved->request),
                  [this, request = std::move(request), done = std::move(done), accepted_ms,
                   conversation_id](Result<store::AppendResult> result) mutable {
                    // On the commit thread, in commit order: the sync index first.
                    if (result.ok() && !result->duplicate_of) {
                      if (result->conversation_created) {
                        auto pair = DirectMembers(conversation_id);
                        if (pair) InvalidateMemberships({pair->first, pair->second});
                      }
                      NoteCommitted(conversation_id, result->entry.version);
                    }
                    // The ack goes out from here (posting to a socket never blocks), so it
                    // never waits behind a big channel's fan-out queued on the shard; the
                    // fan-out goes to the conversation's shard, in commit order. An ack can
                    // thus overtake earlier live frames: clients order by seq (SPEC 5).
                    bool stored = result.ok() && !result->duplicate_of;
                    AfterCommit(request, accepted_ms, result, done);
                    if (!stored) return;
                    shards_.PostTo(conversation_id, [this, entry = std::move(result->entry),
                                                     origin = request.origin_session] {
                      FanOut(entry, origin);
                    });
                  });
  });
}

Result<ChatService::Resolved> ChatService::Resolve(const SendRequest& request) {
  const protocol::SendFrame& f = request.frame;
  if (!f.to.empty()) {
    auto peer = NormalizeUserId(f.to);
    if (!peer.ok()) return BadRequest("to is not a valid user id");
    return ResolveDirect(request, *peer);
  }
  if (auto members = DirectMembers(f.conversation_id)) {
    if (members->first == request.sender) return ResolveDirect(request, members->second);
    if (members->second == request.sender) return ResolveDirect(request, members->first);
    return Forbidden("not a member of this conversation");
  }
  auto info = KnownConversation(f.conversation_id);
  if (!info.ok()) return info.status();
  Resolved out;
  out.conversation_id = f.conversation_id;
  out.request.require_member = request.sender;  // checked atomically with the append
  if (info->kind == store::ConversationKind::kChannel && info->posting == "admins") {
    out.request.require_admin = request.sender;
  }
  return out;
}

Result<ConversationInfo> ChatService::KnownConversation(const std::string& conversation_id) {
  auto info = cache_.Get(conversation_id);
  // In a cluster another node may have changed the posting rule just now: the
  // rule a send is checked against is read fresh (one point read).
  if (info && info->kind && !options_.shared_store) return *info;
  auto conversation = store_.GetConversation(conversation_id);
  if (!conversation.ok()) {
    if (conversation.status().code() == Code::kNotFound) {
      return Forbidden("not a member of this conversation");  // do not reveal existence
    }
    return conversation.status();
  }
  ConversationInfo known = info.value_or(ConversationInfo{});  // keeps loaded members
  known.kind = conversation->kind;
  known.posting = conversation->posting;
  cache_.Put(conversation_id, known);
  return known;
}

// A message may carry only media its sender can read (the store records the
// reference with the message, so its readers can read the media too).
Result<ChatService::MediaInfo> ChatService::CheckMedia(const SendRequest& request) {
  const std::string& media_id = request.frame.media_id;
  if (media_id.empty()) return MediaInfo{};
  if (!media_access_) return BadRequest("this server does not store media");
  Result<MediaInfo> info = media_access_(request.sender, media_id);
  if (!info.ok() && info.status().code() == Code::kNotFound) {
    return Forbidden("you cannot send this media");
  }
  return info;
}

Result<ChatService::Resolved> ChatService::ResolveDirect(const SendRequest& request,
                                                         const std::string& peer) {
  if (peer == request.sender) return BadRequest("cannot send a direct message to yourself");
  // The only sign of a block the blocked user gets is this refusal.
  auto blocked = relations_.CheckBlocks(peer, request.sender);
  if (!blocked.ok()) return blocked.status();
  if (*blocked) return Forbidden("you cannot message this user");
  Resolved out;
  out.conversation_id = DirectConversationId(request.sender, peer);
  if (cache_.Get(out.conversation_id)) return out;
  auto existing = store_.GetConversation(out.conversation_id);
  if (existing.ok()) {
    ConversationInfo direct;
    direct.kind = store::ConversationKind::kDirect;
    cache_.Put(out.conversation_id, std::move(direct));
    return out;
  }
  if (existing.status().code() != Code::kNotFound) return existing.status();
  auto user = store_.GetUser(peer);
  if (!user.ok()) {
    if (user.status().code() == Code::kNotFound) return NotFound("no such user: " + peer);
    return user.status();
  }
  // First message between the two: it creates the conversation.
  store::ConversationRecord created;
  created.conversation_id = out.conversation_id;
  created.kind = store::ConversationKind::kDirect;
  created.created_by = request.sender;
  created.created_at = clock_.NowMs();
  out.request.create_if_missing = created;
  for (const std::string& member : {request.sender, peer}) {
    store::MemberRecord m;
    m.conversation_id = out.conversation_id;
    m.user_id = member;
    m.joined_at = created.created_at;
    out.request.add_members.push_back(m);
  }
  return out;
}


void ChatService::AfterCommit(const SendRequest& request, int64_t accepted_ms,
                              const Result<store::AppendResult>& result, const AckCallback& done) {
  if (!result.ok()) return done(result.status());
  if (const auto& dup = result->duplicate_of) {
    duplicates_.Inc();
    return done(protocol::Ack{dup->client_msg_id, dup->conversation_id, dup->message_id,
                              dup->seq, dup->ts});
  }
  const store::EntryRecord& e = result->entry;
  messages_in_.Inc();
  send_ack_seconds_.Observe((clock_.SteadyMs() - accepted_ms) / 1000.0);
  done(protocol::Ack{e.client_msg_id, e.conversation_id, e.message_id, e.seq, e.ts});
  for (const StoredHook& hook : stored_hooks_) hook(e, KindOfConversation(e.conversation_id));
}

namespace {
// Events after which a conversation's cached members or posting rule are stale.
bool ChangesMembers(const store::EntryRecord& e) {
  if (!e.is_event) return false;
  const std::string& k = e.kind;
  return k == "created" || k == "member_added" || k == "member_removed" || k == "member_left" ||
         k == "renamed";
}

// How long a node remembers the last seq it delivered of a quiet conversation,
// and the largest gap it fills from the store (beyond it, sessions catch up by sync).
constexpr int64_t kSequenceMemoryMs = 10'000;
constexpr uint64_t kMaxGapFill = 256;
// On first contact, entries younger than this may still be in flight from
// other nodes (well below kSequenceMemoryMs: older ones were delivered here
// while this node remembered the conversation, or never had a recipient here).
constexpr int64_t kRecentEntryMs = 5'000;
}  // namespace

void ChatService::FanOut(const store::EntryRecord& entry, const std::string& origin_session,
                         const std::vector<std::string>& also_to) {
  const bool clustered = directory_.clustered();
  const bool changes_members = ChangesMembers(entry);
  bool deliver_here = !clustered || Sequence(entry.conversation_id, entry.seq, changes_members);
  ConversationInfo audience = Recipients(entry.conversation_id);
  // Walking the local online users finds nobody on other nodes.
  auto recipients = clustered ? MembersAt(entry.conversation_id, audience, entry.seq)
                              : OnlineMembers(audience);
  FanoutJob job{std::make_shared<const std::string>(EncodeEntry(entry)),
                entry.version,
                entry.seq,
                recipients ? std::move(recipients) : std::move(audience.members),
                also_to,
                0,
                origin_session,
                deliver_here,
                entry.conversation_id,
                changes_members};
  bool start;
  {
    std::lock_guard lock(fanout_mu_);
    auto& queue = fanout_jobs_[entry.conversation_id];
    start = queue.empty();
    queue.push_back(std::move(job));
  }
  if (start) RunFanout(entry.conversation_id);
}

// Runs on the conversation's shard. Delivers one batch of the oldest job of
// the conversation, then yields the shard (re-posting itself) while work is
// left: a 100k-member channel does not stall the other conversations of the
// shard, and entries of one conversation still reach each user in seq order
// because a conversation's jobs run strictly one after another.
void ChatService::RunFanout(const std::string& conversation_id) {
  FanoutJob* job;
  {
    std::lock_guard lock(fanout_mu_);
    job = &fanout_jobs_[conversation_id].front();  // references survive push_back
  }
  const auto& members = *job->members;
  size_t end = std::min(members.size(), job->next + options_.fanout_batch);
  std::vector<std::string> batch;
  batch.reserve(end - job->next);
  for (size_t i = job->next; i < end; ++i) {
    // A member added after this entry must not see it (the cache may be newer).
    if (members[i].joined_seq <= job->seq) batch.push_back(members[i].user_id);
  }
  job->next = end;
  const bool last_batch = end == members.size();
  if (last_batch) batch.insert(batch.end(), job->also_to.begin(), job->also_to.end());
  if (job->deliver_here) DeliverLocally(batch, job->frame, job->version, job->origin_session);
  directory_.ForwardToOtherNodes({.users = std::move(batch),
                                  .frame = job->frame,
                                  .version = job->version,
                                  .conversation_id = job->conversation_id,
                                  .seq = job->seq,
                                  .changes_members = job->changes_members});
  if (last_batch) {
    std::lock_guard lock(fanout_mu_);
    auto it = fanout_jobs_.find(conversation_id);
    it->second.pop_front();
    if (it->second.empty()) {
      fanout_jobs_.erase(it);
      return;
    }
  }
  shards_.PostTo(conversation_id, [this, conversation_id] { RunFanout(conversation_id); });
}

void ChatService::DeliverLocally(const std::vector<std::string>& users,
                                 const std::shared_ptr<const std::string>& frame, uint64_t version,
                                 const std::string& except_session, int64_t written_at_ms) {
  for (const std::string& user : users) {
    for (const gateway::PeerPtr& peer : directory_.Sessions(user)) {
      if (peer->session_id() == except_session) continue;
      if (written_at_ms != 0 && peer->opened_at_ms() > written_at_ms) continue;  // synced it
      peer->Send(frame, version);
      messages_out_.Inc();
    }
  }
}

void ChatService::DeliverForwarded(directory::RemoteFrame f) {
  if (f.seq == 0) return DeliverLocally(f.users, f.frame, f.version, "");
  std::string conversation_id = f.conversation_id;
  shards_.PostTo(conversation_id, [this, f = std::move(f)] {
    if (Sequence(f.conversation_id, f.seq, f.changes_members)) {
      DeliverLocally(f.users, f.frame, f.version, "");
    }
  });
}

// Entries of one conversation are committed by any node in seq order, but
// reach this node over different connections, so one may overtake another.
// Every seq below a committed entry is committed too (the store assigns it
// only after the one below committed), so a gap is filled from the store.
bool ChatService::Sequence(const std::string& conversation_id, uint64_t seq,
                           bool changes_members) {
  const int64_t now = clock_.SteadyMs();
  std::optional<Delivered> last;
  {
    std::lock_guard lock(sequence_mu_);
    if (delivered_.size() > 100'000) {
      std::erase_if(delivered_, [&](const auto& kv) { return now - kv.second.at_ms > kSequenceMemoryMs; });
    }
    auto it = delivered_.find(conversation_id);
    if (it != delivered_.end() && now - it->second.at_ms <= kSequenceMemoryMs) last = it->second;
  }
  if (last && seq <= last->seq) return false;  // a gap fill delivered it already
  if (!last) {
    // First entry here in a while. What happened before is unknown (membership
    // may have changed), and entries just below it may still be on their way
    // from other nodes: the recent ones are delivered now, and later arrivals
    // of them dropped. Older ones reached the sessions here earlier, or sync.
    cache_.Invalidate(conversation_id);
    uint64_t from = seq > kMaxGapFill ? seq - kMaxGapFill - 1 : 0;
    FillGap(conversation_id, from, seq, clock_.NowMs() - kRecentEntryMs);
  } else if (seq - last->seq - 1 > kMaxGapFill) {
    cache_.Invalidate(conversation_id);  // too far behind: the sessions catch up by sync
  } else if (seq > last->seq + 1) {
    FillGap(conversation_id, last->seq, seq, 0);
  }
  if (changes_members) cache_.Invalidate(conversation_id);
  std::lock_guard lock(sequence_mu_);
  delivered_[conversation_id] = {seq, now};
  return true;
}

void ChatService::FillGap(const std::string& conversation_id, uint64_t after_seq,
                          uint64_t before_seq, int64_t not_before_ms) {
  if (before_seq <= after_seq + 1) return;
  auto entries = store_.ReadEntries(conversation_id, after_seq, before_seq,
                                    before_seq - after_seq - 1, /*newest_first=*/false);
  if (!entries.ok()) {
    spdlog::warn("event=gap_fill_failed conversation={} error=\"{}\"", conversation_id,
                 entries.status().ToString());
    cache_.Invalidate(conversation_id);
    return;
  }
  for (const store::EntryRecord& e : *entries) {
    if (e.ts < not_before_ms) continue;
    gap_fills_.Inc();
    if (ChangesMembers(e)) cache_.Invalidate(conversation_id);
    ConversationInfo audience = Recipients(conversation_id);
    std::vector<std::string> users;
    auto members = MembersAt(conversation_id, audience, e.seq);  // kept alive for the loop
    for (const MemberRef& m : *members) {
      if (m.joined_seq <= e.seq) users.push_back(m.user_id);
    }
    if (e.is_event && (e.kind == "member_removed" || e.kind == "member_left")) {
      users.push_back(e.user_id);  // sees its own removal
    }
    // Read late from the store: sessions opened since it was written had it from their sync.
    DeliverLocally(users, std::make_shared<const std::string>(EncodeEntry(e)), e.version, "", e.ts);
  }
}

ConversationInfo ChatService::Recipients(const std::string& conversation_id) {
  if (auto pair = DirectMembers(conversation_id)) {
    ConversationInfo direct;
    direct.members = std::make_shared<const std::vector<MemberRef>>(
        std::vector<MemberRef>{{pair->first, 0}, {pair->second, 0}});
    return direct;
  }
  auto cached = cache_.Get(conversation_id);
  if (cached && cached->members) return *cached;
  auto members = std::make_shared<std::vector<MemberRef>>();
  std::string after;
  for (;;) {  // page through the member list
    auto page = store_.ListMembers(conversation_id, after, 1000);
    if (!page.ok()) {
      spdlog::warn("event=fanout_members_failed conversation={} error=\"{}\"", conversation_id,
                   page.status().ToString());
      ConversationInfo partial;  // not cached: the next entry tries again
      partial.members = std::move(members);
      return partial;
    }
    for (const auto& m : *page) members->push_back({m.user_id, m.joined_seq});
    if (page->size() < 1000) break;
    after = page->back().user_id;
  }
  ConversationInfo info = cached.value_or(ConversationInfo{});
  if (options_.shared_store) {
    auto conversation = store_.GetConversation(conversation_id);
    // Unknown: every entry rolls back from what the store holds now.
    info.members_upto_seq = conversation.ok() ? conversation->last_seq : UINT64_MAX;
  }
  if (members->size() >= options_.sparse_fanout_min_members) {
    auto index = std::make_shared<std::unordered_map<std::string, uint64_t>>();
    index->reserve(members->size());
    for (const MemberRef& m : *members) index->emplace(m.user_id, m.joined_seq);
    info.member_index = std::move(index);
  } else {
    info.member_index.reset();
  }
  info.members = std::move(members);
  cache_.Put(conversation_id, info);
  return info;
}

// Cluster mode: the members of entry `seq`'s time. The cached list may be
// newer than the entry (read after other nodes committed later membership
// events), so a member removed after `seq` is put back: it must still get the
// entries up to its removal. Members added after `seq` are left to the
// joined_seq check of the fan-out.
std::shared_ptr<const std::vector<MemberRef>> ChatService::MembersAt(
    const std::string& conversation_id, const ConversationInfo& audience, uint64_t seq) {
  if (seq >= audience.members_upto_seq) return audience.members;
  constexpr size_t kMaxRollback = 10'000;
  auto later = store_.ReadEntries(conversation_id, seq, 0, kMaxRollback, /*newest_first=*/false);
  if (!later.ok()) {
    spdlog::warn("event=members_rollback_failed conversation={} error=\"{}\"", conversation_id,
                 later.status().ToString());
    return audience.members;
  }
  std::set<std::string> current;
  for (const MemberRef& m : *audience.members) current.insert(m.user_id);
  std::set<std::string> added_later;
  auto at = std::make_shared<std::vector<MemberRef>>(*audience.members);
  for (const store::EntryRecord& e : *later) {
    if (!e.is_event) continue;
    if (e.kind == "member_added" || e.kind == "created") added_later.insert(e.user_id);
    bool removal = e.kind == "member_removed" || e.kind == "member_left";
    // A member at `seq` unless it joined after it (and was removed again).
    if (removal && !added_later.count(e.user_id) && current.insert(e.user_id).second) {
      at->push_back({e.user_id, 0});
    }
  }
  return at;
}

std::shared_ptr<const std::vector<MemberRef>> ChatService::OnlineMembers(
    const ConversationInfo& audience) {
  // Walking the online users costs one hash lookup each, like walking the
  // members: worth it only when there are far fewer of them.
  if (!audience.member_index || directory_.UserCount() * 4 >= audience.members->size()) {
    return nullptr;
  }
  auto online = std::make_shared<std::vector<MemberRef>>();
  const auto& index = *audience.member_index;
  directory_.ForEachUser([&](const std::string& user) {
    if (auto it = index.find(user); it != index.end()) online->push_back({user, it->second});
  });
  sparse_fanouts_.Inc();
  return online;
}

void ChatService::AppendEvent(store::AppendRequest request, std::vector<std::string> also_to,
                              std::function<void(Result<store::AppendResult>)> done) {
  std::string conversation_id = request.entry.conversation_id;
  // Sync reads memberships for their seq ranges only (not roles): joins and
  // leaves are what make a user's cached list stale.
  std::vector<std::string> changed_users = request.remove_members;
  for (const auto& m : request.add_members) changed_users.push_back(m.user_id);
  store_.Append(std::move(request), [this, conversation_id, also_to = std::move(also_to),
                                     changed_users = std::move(changed_users),
                                     done = std::move(done)](Result<store::AppendResult> result) mutable {
    if (result.ok() && !result->duplicate_of) {  // on the commit thread, in commit order
      InvalidateMemberships(changed_users);
      NoteCommitted(conversation_id, result->entry.version);
    }
    shards_.PostTo(conversation_id, [this, also_to = std::move(also_to), done = std::move(done),
                                     result = std::move(result)]() mutable {
      if (result.ok() && !result->duplicate_of) {
        // Membership may have changed: recipients are read fresh from the store.
        cache_.Invalidate(result->entry.conversation_id);
        FanOut(result->entry, "", also_to);
      }
      done(std::move(result));
    });
  });
}

void ChatService::AppendChange(store::AppendRequest request, std::string origin_session,
                               std::function<void(Result<store::AppendResult>)> done) {
  std::string conversation_id = request.entry.conversation_id;
  store_.Append(
      std::move(request), [this, conversation_id, origin = std::move(origin_session),
                           done = std::move(done)](Result<store::AppendResult> result) mutable {
        bool stored = result.ok() && !result->duplicate_of && result->entry.seq != 0;
        if (stored) {  // on the commit thread, in commit order: the sync index first
          NoteCommitted(conversation_id, result->entry.version);
        } else if (result.ok() && result->changed && result->hidden) {
          NoteCommitted(conversation_id, result->hidden->version);
        }
        shards_.PostTo(conversation_id, [this, origin = std::move(origin), done = std::move(done),
                                         result = std::move(result), stored]() mutable {
          if (result.ok() && !result->released_media.empty()) {
            ReleaseMedia(std::move(result->released_media));
          }
          done(result);
          if (stored) FanOut(result->entry, origin);
        });
      });
}

void ChatService::ReleaseMedia(std::vector<std::string> media_ids) {
  if (!media_released_hook_) return;
  readers_.Post([this, media_ids = std::move(media_ids)] {
    for (const std::string& id : media_ids) {
      auto live = store_.HasLiveMediaReference(id);
      if (live.ok() && !*live) media_released_hook_(id);
    }
  });
}

}  // namespace parley::chat
