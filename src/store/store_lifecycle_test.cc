// The typed suite every Store implementation must pass, part three: the
// message lifecycle (replies, edits, deletes, reactions, hides, retention
// purges) and the media-reference fact media access builds on.
#include <cstdint>

#include "store/records.h"
#include "store/store_test_fixture.h"

namespace parley::store {
namespace {

using Op = MessageChange::Op;
constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kHour = 3600 * 1000;

template <typename Factory>
class StoreLifecycleTest : public StoreTest<Factory> {
 protected:
  void SetUp() override {
    StoreTest<Factory>::SetUp();
    // alice is the admin of g; bob and carol are members; d is alice and bob's 1:1.
    ASSERT_TRUE(
        this->AppendSync(this->Create("g", ConversationKind::kGroup, {"alice", "bob", "carol"}))
            .ok());
    ASSERT_TRUE(
        this->AppendSync(this->Create("d", ConversationKind::kDirect, {"alice", "bob"})).ok());
    for (const char* id : {"media-1", "media-a"}) {
      MediaRecord media;
      media.media_id = id;
      media.sha256 = std::string("sha-") + id;
      media.uploader = "bob";
      media.created_at = 1000;
      ASSERT_TRUE(this->store_->PutMedia(media).ok());
    }
  }

  std::vector<std::string> MediaRefConversations(const std::string& media_id) {
    std::vector<std::string> out;
    auto refs = this->store_->ListMediaRefs(media_id);
    EXPECT_TRUE(refs.ok());
    if (refs.ok()) {
      for (const MediaRefRecord& r : *refs) {
        out.push_back(r.conversation_id + "@" + std::to_string(r.seq));
      }
    }
    return out;
  }
  bool Unreferenced(const std::string& media_id) {
    auto list = this->store_->ListUnreferencedMedia(INT64_MAX, 100);
    EXPECT_TRUE(list.ok());
    if (!list.ok()) return false;
    for (const MediaRecord& m : *list) {
      if (m.media_id == media_id) return true;
    }
    return false;
  }

  // Appends a message and returns it as stored.
  EntryRecord Send(const std::string& conv, const std::string& sender, const std::string& content,
                   const std::string& reply_to = "", const std::string& media_id = "") {
    AppendRequest request = this->Message(conv, sender, content);
    request.entry.reply_to = reply_to;
    request.entry.media_id = media_id;
    Result<AppendResult> r = this->AppendSync(std::move(request));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->entry : EntryRecord{};
  }

  static AppendRequest Change(const std::string& conv, const std::string& actor, Op op,
                              uint64_t message_id, std::string kind, int64_t ts = kT0 + 1000) {
    AppendRequest request;
    request.entry.conversation_id = conv;
    request.entry.is_event = true;
    request.entry.kind = std::move(kind);
    request.entry.actor = actor;
    request.entry.sender = actor;
    request.entry.message_id = message_id;
    request.entry.ts = ts;
    request.require_member = actor;
    MessageChange change;
    change.op = op;
    change.message_id = message_id;
    change.actor = actor;
    change.sender_window_ms = 48 * kHour;
    change.admin_may_delete = true;
    request.change = change;
    return request;
  }
  static AppendRequest Edit(const std::string& conv, const std::string& actor, uint64_t id,
                            const std::string& content, int64_t ts = kT0 + 1000) {
    AppendRequest r = Change(conv, actor, Op::kEdit, id, "edited", ts);
    r.entry.content = content;
    return r;
  }
  static AppendRequest React(const std::string& conv, const std::string& actor, uint64_t id,
                             const std::string& emoji, bool stream = true) {
    AppendRequest r = Change(conv, actor, Op::kReact, id, "reaction");
    r.entry.emoji = emoji;
    r.change->emoji = emoji;
    r.change->stream_entry = stream;
    return r;
  }

  EntryRecord Get(const std::string& conv, uint64_t message_id) {
    Result<EntryRecord> e = this->store_->GetMessage(conv, message_id);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? *e : EntryRecord{};
  }
  EntryRecord EntryAt(const std::string& conv, uint64_t seq) {
    auto entries = this->store_->ReadEntries(conv, seq - 1, seq + 1, 1, false);
    EXPECT_TRUE(entries.ok() && entries->size() == 1);
    return entries.ok() && entries->size() == 1 ? entries->front() : EntryRecord{};
  }
  Code CodeOf(AppendRequest request) {
    Result<AppendResult> r = this->AppendSync(std::move(request));
    return r.ok() ? Code::kOk : r.status().code();
  }
};
TYPED_TEST_SUITE(StoreLifecycleTest, StoreFactories);

TYPED_TEST(StoreLifecycleTest, ReplyCopiesQuotedSenderAndPreviewAndMustBeInTheConversation) {
  std::string long_text(90, 'a');
  long_text += "ééééééé";  // 2-byte characters across the 100-byte cut
  EntryRecord quoted = this->Send("g", "bob", long_text);
  EntryRecord reply = this->Send("g", "alice", "yes", std::to_string(quoted.message_id));
  EXPECT_EQ(reply.reply_to, std::to_string(quoted.message_id));
  EXPECT_EQ(reply.reply_sender, "bob");
  EXPECT_EQ(reply.reply_preview, long_text.substr(0, 100));
  EXPECT_EQ(this->Get("g", reply.message_id).reply_preview, long_text.substr(0, 100));

  AppendRequest cross = this->Message("d", "alice", "x");
  cross.entry.reply_to = std::to_string(quoted.message_id);  // a message of g, not d
  EXPECT_EQ(this->CodeOf(std::move(cross)), Code::kNotFound);
  AppendRequest unknown = this->Message("g", "alice", "x");
  unknown.entry.reply_to = "12345";
  EXPECT_EQ(this->CodeOf(std::move(unknown)), Code::kNotFound);
  AppendRequest garbage = this->Message("g", "alice", "x");
  garbage.entry.reply_to = "12ab";
  EXPECT_EQ(this->CodeOf(std::move(garbage)), Code::kBadRequest);
  // Nothing of a refused reply was stored.
  EXPECT_EQ(this->LastSeq("g"), reply.seq);
}

TYPED_TEST(StoreLifecycleTest, EditIsAnEventWithItsOwnSeqAndRewritesTheMessage) {
  EntryRecord m = this->Send("g", "bob", "helo");
  EntryRecord later = this->Send("g", "carol", "later");
  Result<AppendResult> edit = this->AppendSync(this->Edit("g", "bob", m.message_id, "hello"));
  ASSERT_TRUE(edit.ok()) << edit.status().ToString();
  EXPECT_EQ(edit->entry.seq, later.seq + 1);
  EXPECT_EQ(edit->entry.kind, "edited");
  EXPECT_EQ(edit->entry.message_id, m.message_id);
  EXPECT_EQ(edit->entry.content, "hello");
  ASSERT_TRUE(edit->target);
  EXPECT_EQ(edit->target->content, "hello");

  EntryRecord stored = this->Get("g", m.message_id);
  EXPECT_EQ(stored.seq, m.seq);
  EXPECT_EQ(stored.version, m.version);  // sync finds the change through the event
  EXPECT_EQ(stored.content, "hello");
  EXPECT_EQ(stored.edited_at, kT0 + 1000);
  auto since = this->store_->ReadSinceVersion("g", later.version, 10);
  ASSERT_TRUE(since.ok());
  ASSERT_EQ(since->size(), 1u);
  EXPECT_EQ((*since)[0].kind, "edited");

  EXPECT_EQ(this->CodeOf(this->Edit("g", "carol", m.message_id, "mine now")), Code::kForbidden);
  EXPECT_EQ(this->CodeOf(this->Edit("g", "bob", m.message_id, "late", m.ts + 48 * kHour)),
            Code::kForbidden);
  EXPECT_EQ(this->CodeOf(this->Edit("g", "bob", 999999, "who")), Code::kNotFound);
  EXPECT_EQ(this->CodeOf(this->Edit("d", "bob", m.message_id, "elsewhere")), Code::kNotFound);
  EXPECT_EQ(this->CodeOf(this->Edit("g", "mallory", m.message_id, "x")), Code::kForbidden);
  EXPECT_EQ(this->LastSeq("g"), edit->entry.seq);
}

TYPED_TEST(StoreLifecycleTest, IdempotentChangeReturnsTheOriginal) {
  EntryRecord m = this->Send("g", "bob", "v1");
  AppendRequest edit = this->Edit("g", "bob", m.message_id, "v2");
  edit.entry.client_msg_id = "e-1";
  edit.idempotent = true;
  Result<AppendResult> first = this->AppendSync(edit);
  ASSERT_TRUE(first.ok());
  edit.entry.content = "v3";  // a retry with the same client_msg_id changes nothing
  Result<AppendResult> again = this->AppendSync(edit);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again->duplicate_of);
  EXPECT_EQ(again->duplicate_of->seq, first->entry.seq);
  EXPECT_EQ(again->duplicate_of->message_id, m.message_id);
  EXPECT_EQ(this->Get("g", m.message_id).content, "v2");
  EXPECT_EQ(this->LastSeq("g"), first->entry.seq);
}

TYPED_TEST(StoreLifecycleTest, DeleteTombstonesAndScrubsEditsRepliesReactionsAndMedia) {
  EntryRecord m = this->Send("g", "bob", "secret", "", "media-1");
  EntryRecord other = this->Send("g", "carol", "also media-1", "", "media-1");
  ASSERT_TRUE(this->AppendSync(this->Edit("g", "bob", m.message_id, "secret v2")).ok());
  EntryRecord reply = this->Send("g", "carol", "what?", std::to_string(m.message_id));
  EXPECT_EQ(reply.reply_preview, "secret v2");
  ASSERT_TRUE(this->AppendSync(this->React("g", "carol", m.message_id, "👍")).ok());
  EXPECT_TRUE(*this->store_->HasLiveMediaReference("media-1"));

  EXPECT_EQ(this->CodeOf(this->Change("g", "carol", Op::kDelete, m.message_id, "deleted")),
            Code::kForbidden);  // neither the sender nor an admin
  Result<AppendResult> del =
      this->AppendSync(this->Change("g", "bob", Op::kDelete, m.message_id, "deleted"));
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  EXPECT_TRUE(del->changed);
  EXPECT_TRUE(del->released_media.empty());  // g still carries it in `other`

  EntryRecord tomb = this->Get("g", m.message_id);
  EXPECT_TRUE(tomb.deleted);
  EXPECT_EQ(tomb.content, "");
  EXPECT_EQ(tomb.media_id, "");
  EXPECT_TRUE(tomb.reactions.empty());
  EXPECT_EQ(tomb.sender, "bob");
  EntryRecord edit_event = this->EntryAt("g", m.seq + 2);
  EXPECT_EQ(edit_event.kind, "edited");
  EXPECT_EQ(edit_event.content, "");
  EXPECT_TRUE(edit_event.deleted);
  EXPECT_EQ(this->Get("g", reply.message_id).reply_preview, "");
  EXPECT_EQ(this->Get("g", reply.message_id).reply_sender, "bob");

  // The other message still carries the media: g keeps its reference, moved
  // back to that message; deleting it too drops the reference (members lose
  // access) and makes the upload a GC candidate.
  EXPECT_TRUE(*this->store_->HasLiveMediaReference("media-1"));
  EXPECT_EQ(this->MediaRefConversations("media-1"),
            std::vector<std::string>{"g@" + std::to_string(other.seq)});
  EXPECT_FALSE(this->Unreferenced("media-1"));
  Result<AppendResult> last_copy =
      this->AppendSync(this->Change("g", "alice", Op::kDelete, other.message_id, "deleted"));
  ASSERT_TRUE(last_copy.ok());
  EXPECT_EQ(last_copy->released_media, std::vector<std::string>{"media-1"});
  EXPECT_FALSE(*this->store_->HasLiveMediaReference("media-1"));
  EXPECT_TRUE(this->MediaRefConversations("media-1").empty());
  EXPECT_TRUE(this->Unreferenced("media-1"));

  // A deleted message takes no edits, reactions or replies; deleting again is a no-op.
  EXPECT_EQ(this->CodeOf(this->Edit("g", "bob", m.message_id, "back")), Code::kNotFound);
  EXPECT_EQ(this->CodeOf(this->React("g", "bob", m.message_id, "x")), Code::kNotFound);
  AppendRequest late_reply = this->Message("g", "alice", "re");
  late_reply.entry.reply_to = std::to_string(m.message_id);
  EXPECT_EQ(this->CodeOf(std::move(late_reply)), Code::kNotFound);
  uint64_t last = this->LastSeq("g");
  Result<AppendResult> again =
      this->AppendSync(this->Change("g", "bob", Op::kDelete, m.message_id, "deleted"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(this->LastSeq("g"), last);
}

TYPED_TEST(StoreLifecycleTest, SenderDeleteWindowAndAdminsAnyTime) {
  EntryRecord m = this->Send("g", "bob", "old");
  EXPECT_EQ(this->CodeOf(
                this->Change("g", "bob", Op::kDelete, m.message_id, "deleted", m.ts + 48 * kHour)),
            Code::kForbidden);
  EXPECT_TRUE(this->AppendSync(this->Change("g", "alice", Op::kDelete, m.message_id, "deleted",
                                            m.ts + 900 * kHour))
                  .ok());
  // In a 1:1 there is no admin: the peer cannot delete.
  EntryRecord d = this->Send("d", "bob", "hi");
  EXPECT_EQ(this->CodeOf(this->Change("d", "alice", Op::kDelete, d.message_id, "deleted")),
            Code::kForbidden);
}

TYPED_TEST(StoreLifecycleTest, OneReactionPerUserCountedOnTheMessage) {
  EntryRecord m = this->Send("g", "bob", "nice");
  Result<AppendResult> r1 = this->AppendSync(this->React("g", "alice", m.message_id, "👍"));
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->entry.kind, "reaction");
  EXPECT_EQ(r1->entry.reactions, (std::map<std::string, uint32_t>{{"👍", 1}}));
  ASSERT_TRUE(this->AppendSync(this->React("g", "carol", m.message_id, "👍")).ok());
  Result<AppendResult> same = this->AppendSync(this->React("g", "carol", m.message_id, "👍"));
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(same->changed);  // idempotent: no new seq
  EXPECT_EQ(same->entry.seq, 0u);
  ASSERT_TRUE(this->AppendSync(this->React("g", "alice", m.message_id, "🎉")).ok());
  EXPECT_EQ(this->Get("g", m.message_id).reactions,
            (std::map<std::string, uint32_t>{{"👍", 1}, {"🎉", 1}}));
  ASSERT_TRUE(this->AppendSync(this->React("g", "carol", m.message_id, "")).ok());
  EXPECT_EQ(this->Get("g", m.message_id).reactions, (std::map<std::string, uint32_t>{{"🎉", 1}}));

  // Without a stream entry (channels): counts change, no seq is used.
  uint64_t last = this->LastSeq("g");
  Result<AppendResult> quiet =
      this->AppendSync(this->React("g", "bob", m.message_id, "🎉", /*stream=*/false));
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->changed);
  EXPECT_EQ(quiet->entry.seq, 0u);
  EXPECT_EQ(this->LastSeq("g"), last);
  EXPECT_EQ(this->Get("g", m.message_id).reactions, (std::map<std::string, uint32_t>{{"🎉", 2}}));
  // The aggregate event carries the counts.
  Result<AppendResult> counts =
      this->AppendSync(this->Change("g", "bob", Op::kCounts, m.message_id, "reactions"));
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->entry.seq, last + 1);
  EXPECT_EQ(counts->entry.reactions, (std::map<std::string, uint32_t>{{"🎉", 2}}));
  EXPECT_EQ(this->CodeOf(this->React("g", "mallory", m.message_id, "👍")), Code::kForbidden);
}

TYPED_TEST(StoreLifecycleTest, HideIsPerUserAndVersioned) {
  EntryRecord m = this->Send("g", "bob", "hide me");
  uint64_t before = this->store_->GetConversation("g")->last_version;
  Result<AppendResult> hide =
      this->AppendSync(this->Change("g", "carol", Op::kHide, m.message_id, ""));
  ASSERT_TRUE(hide.ok()) << hide.status().ToString();
  ASSERT_TRUE(hide->hidden);
  EXPECT_GT(hide->hidden->version, before);
  EXPECT_EQ(hide->entry.seq, 0u);
  EXPECT_EQ(this->store_->GetConversation("g")->last_version, hide->hidden->version);
  EXPECT_EQ(this->LastSeq("g"), m.seq);
  auto hidden = this->store_->ListHidden("g", "carol");
  ASSERT_TRUE(hidden.ok());
  ASSERT_EQ(hidden->size(), 1u);
  EXPECT_EQ((*hidden)[0].seq, m.seq);
  EXPECT_EQ((*hidden)[0].message_id, m.message_id);
  EXPECT_TRUE(this->store_->ListHidden("g", "bob")->empty());
  Result<AppendResult> again =
      this->AppendSync(this->Change("g", "carol", Op::kHide, m.message_id, ""));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
}

TYPED_TEST(StoreLifecycleTest, PurgeRemovesThePrefixAndEverythingThatPointsIntoIt) {
  EntryRecord a = this->Send("g", "bob", "a", "", "media-a");
  EntryRecord b = this->Send("g", "bob", "b");
  ASSERT_TRUE(this->AppendSync(this->React("g", "alice", b.message_id, "👍")).ok());
  EntryRecord c = this->Send("g", "carol", "c");
  // Kept: an edit and a reply of purged messages lose the copied text.
  Result<AppendResult> edit = this->AppendSync(this->Edit("g", "bob", b.message_id, "b2"));
  ASSERT_TRUE(edit.ok());
  EntryRecord reply = this->Send("g", "carol", "re", std::to_string(a.message_id));

  PurgeRequest purge;
  purge.up_to_seq = c.seq;
  purge.messages = {
      {a.seq, a.message_id, a.media_id}, {b.seq, b.message_id, ""}, {c.seq, c.message_id, ""}};
  AppendRequest request;
  request.entry.conversation_id = "g";
  request.purge = purge;
  Result<AppendResult> purged = this->AppendSync(request);
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_TRUE(purged->changed);
  EXPECT_EQ(purged->released_media, std::vector<std::string>{"media-a"});
  EXPECT_FALSE(*this->store_->HasLiveMediaReference("media-a"));
  EXPECT_TRUE(this->MediaRefConversations("media-a").empty());
  EXPECT_TRUE(this->Unreferenced("media-a"));

  auto left = this->store_->ReadEntries("g", 0, 0, 100, false);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[0].seq, edit->entry.seq);
  EXPECT_EQ((*left)[0].content, "");
  EXPECT_TRUE((*left)[0].deleted);
  EXPECT_EQ((*left)[1].seq, reply.seq);
  EXPECT_EQ((*left)[1].reply_preview, "");
  auto since = this->store_->ReadSinceVersion("g", 0, 100);
  ASSERT_TRUE(since.ok()) << since.status().ToString();
  EXPECT_EQ(since->size(), 2u);
  EXPECT_EQ(this->store_->GetMessage("g", b.message_id).status().code(), Code::kNotFound);
  EXPECT_EQ(this->store_->GetConversation("g")->purged_seq, c.seq);
  EXPECT_EQ(this->CodeOf(this->React("g", "carol", b.message_id, "👍")), Code::kNotFound);

  // The stream goes on after the purge; purging the same prefix again is a no-op.
  EntryRecord next = this->Send("g", "bob", "next");
  EXPECT_EQ(next.seq, reply.seq + 1);
  Result<AppendResult> again = this->AppendSync(request);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
  this->Reopen();
  EXPECT_EQ(this->store_->ReadEntries("g", 0, 0, 100, false)->size(), 3u);
}

TYPED_TEST(StoreLifecycleTest, SameBatchSendEditAndPurgeSeeEachOther) {
  EntryRecord first = this->Send("g", "bob", "first");
  std::function<void()> release = this->HoldCommitter();
  AppendRequest send = this->Message("g", "bob", "draft");
  uint64_t id = send.entry.message_id;
  auto sent = this->AppendAsync(send);
  auto edited = this->AppendAsync(this->Edit("g", "bob", id, "final"));
  PurgeRequest purge;
  purge.up_to_seq = first.seq;
  purge.messages = {{first.seq, first.message_id, ""}};
  AppendRequest purge_request;
  purge_request.entry.conversation_id = "g";
  purge_request.purge = purge;
  auto purged = this->AppendAsync(purge_request);
  auto react_gone = this->AppendAsync(this->React("g", "alice", first.message_id, "👍"));
  release();
  ASSERT_TRUE(sent.get().ok());
  Result<AppendResult> e = edited.get();
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_TRUE(purged.get().ok());
  EXPECT_EQ(react_gone.get().status().code(), Code::kNotFound);
  EXPECT_EQ(this->Get("g", id).content, "final");
}

TEST(LifecycleRecords, NewEntryFieldsRoundTrip) {
  EntryRecord e;
  e.conversation_id = "g";
  e.seq = 3;
  e.reply_to = "17";
  e.reply_sender = "bob";
  e.reply_preview = "hi";
  e.edited_at = 42;
  e.deleted = true;
  e.reactions = {{"👍", 2}, {"🎉", 1}};
  e.emoji = "👍";
  e.disappear_after_s = 0;
  Result<EntryRecord> back = DecodeEntry(EncodeEntry(e));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->reply_sender, "bob");
  EXPECT_EQ(back->reply_preview, "hi");
  EXPECT_EQ(back->edited_at, 42);
  EXPECT_TRUE(back->deleted);
  EXPECT_EQ(back->reactions, e.reactions);
  EXPECT_EQ(back->emoji, "👍");
  EXPECT_EQ(back->disappear_after_s, 0);
  EXPECT_EQ(DecodeEntry(R"({"conversation_id":"g","seq":1})")->disappear_after_s, -1);
  EXPECT_FALSE(DecodeEntry(R"({"conversation_id":"g","seq":1,"reactions":{"x":-1}})").ok());

  ConversationRecord c;
  c.conversation_id = "g";
  c.disappear_after_s = 60;
  c.purged_seq = 9;
  Result<ConversationRecord> cb = DecodeConversation(EncodeConversation(c));
  ASSERT_TRUE(cb.ok());
  EXPECT_EQ(cb->disappear_after_s, 60);
  EXPECT_EQ(cb->purged_seq, 9u);

  HiddenRecord h{"g", "bob", 4, 77, 12, 99};
  Result<HiddenRecord> hb = DecodeHidden(EncodeHidden(h));
  ASSERT_TRUE(hb.ok());
  EXPECT_EQ(hb->seq, 4u);
  EXPECT_EQ(hb->message_id, 77u);
  EXPECT_EQ(hb->version, 12u);
}

}  // namespace
}  // namespace parley::store
