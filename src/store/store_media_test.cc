// The typed suite every Store implementation must pass, part three: media
// metadata, the references recorded with messages, and what garbage
// collection may delete.
#include <thread>

#include "store/store_test_fixture.h"

namespace parley::store {
namespace {

template <typename Factory>
class StoreMediaTest : public StoreTest<Factory> {
 protected:
  void SetUp() override {
    StoreTest<Factory>::SetUp();
    ASSERT_TRUE(
        this->AppendSync(this->Create("g", ConversationKind::kGroup, {"alice", "bob"})).ok());
  }

  static MediaRecord Media(std::string id, std::string sha256, int64_t created_at = 1000) {
    MediaRecord m;
    m.media_id = std::move(id);
    m.sha256 = std::move(sha256);
    m.size = 42;
    m.content_type = "image/png";
    m.uploader = "alice";
    m.file_name = "cat.png";
    m.created_at = created_at;
    m.width = 640;
    m.height = 480;
    return m;
  }

  Result<AppendResult> SendMedia(const std::string& conversation, const std::string& media_id) {
    AppendRequest request = this->Message(conversation, "alice", "");
    request.entry.type = "image";
    request.entry.media_id = media_id;
    request.entry.media_width = 640;
    request.entry.media_height = 480;
    return this->AppendSync(std::move(request));
  }

  std::vector<std::string> UnreferencedIds(int64_t before) {
    Result<std::vector<MediaRecord>> list = this->store_->ListUnreferencedMedia(before, 100);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    std::vector<std::string> ids;
    if (list.ok()) {
      for (const MediaRecord& m : *list) ids.push_back(m.media_id);
    }
    return ids;
  }
};
TYPED_TEST_SUITE(StoreMediaTest, StoreFactories);

using Ids = std::vector<std::string>;

TYPED_TEST(StoreMediaTest, PutsAndGetsMedia) {
  Store& s = *this->store_;
  ASSERT_TRUE(s.PutMedia(this->Media("m1", "aa")).ok());
  Result<MediaRecord> m = s.GetMedia("m1");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->sha256, "aa");
  EXPECT_EQ(m->size, 42u);
  EXPECT_EQ(m->content_type, "image/png");
  EXPECT_EQ(m->uploader, "alice");
  EXPECT_EQ(m->file_name, "cat.png");
  EXPECT_EQ(m->width, 640u);
  EXPECT_EQ(m->height, 480u);
  EXPECT_EQ(s.PutMedia(this->Media("m1", "bb")).code(), Code::kConflict);
  EXPECT_EQ(s.GetMedia("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(s.GetMedia(std::string("a\0b", 3)).status().code(), Code::kNotFound);
  EXPECT_EQ(s.PutMedia(this->Media("", "aa")).code(), Code::kBadRequest);
}

TYPED_TEST(StoreMediaTest, MessageRecordsTheReferenceAtomically) {
  Store& s = *this->store_;
  ASSERT_TRUE(s.PutMedia(this->Media("m1", "aa")).ok());
  EXPECT_EQ(this->UnreferencedIds(2000), Ids{"m1"});

  Result<AppendResult> sent = this->SendMedia("g", "m1");
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  EXPECT_EQ(sent->entry.media_width, 640u);
  Result<std::vector<MediaRefRecord>> refs = s.ListMediaRefs("m1");
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].conversation_id, "g");
  EXPECT_EQ((*refs)[0].seq, sent->entry.seq);
  EXPECT_TRUE(this->UnreferencedIds(2000).empty());

  // A later message in the same conversation moves the reference to its seq.
  Result<AppendResult> again = this->SendMedia("g", "m1");
  ASSERT_TRUE(again.ok());
  refs = s.ListMediaRefs("m1");
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].seq, again->entry.seq);

  // The media fields survive the round trip through the stream.
  Result<std::vector<EntryRecord>> entries = s.ReadEntries("g", sent->entry.seq - 1, 0, 1, false);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].media_id, "m1");
  EXPECT_EQ((*entries)[0].media_height, 480u);
}

TYPED_TEST(StoreMediaTest, MessageWithUnknownMediaStoresNothing) {
  uint64_t before = this->LastSeq("g");
  Result<AppendResult> sent = this->SendMedia("g", "missing");
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.status().code(), Code::kForbidden);
  EXPECT_EQ(this->LastSeq("g"), before);
  EXPECT_TRUE(this->store_->ListMediaRefs("missing")->empty());
}

TYPED_TEST(StoreMediaTest, DeletesOnlyUnreferencedMedia) {
  Store& s = *this->store_;
  ASSERT_TRUE(s.PutMedia(this->Media("kept", "aa", 1000)).ok());
  ASSERT_TRUE(s.PutMedia(this->Media("old", "aa", 1100)).ok());
  ASSERT_TRUE(s.PutMedia(this->Media("young", "bb", 5000)).ok());
  ASSERT_TRUE(this->SendMedia("g", "kept").ok());

  // Oldest first, and only those created before the bound.
  EXPECT_EQ(this->UnreferencedIds(2000), Ids{"old"});
  EXPECT_EQ(this->UnreferencedIds(6000), (Ids{"old", "young"}));

  EXPECT_FALSE(*s.DeleteUnreferencedMedia("kept"));
  EXPECT_TRUE(s.GetMedia("kept").ok());
  EXPECT_TRUE(*s.DeleteUnreferencedMedia("old"));
  EXPECT_EQ(s.GetMedia("old").status().code(), Code::kNotFound);
  EXPECT_FALSE(*s.DeleteUnreferencedMedia("old"));  // already gone
  EXPECT_EQ(this->UnreferencedIds(6000), Ids{"young"});

  // "aa" is still named by "kept"; "bb" no longer once "young" goes.
  EXPECT_TRUE(*s.HasMediaWithSha256("aa"));
  EXPECT_TRUE(*s.DeleteUnreferencedMedia("young"));
  EXPECT_FALSE(*s.HasMediaWithSha256("bb"));

  // A deleted media cannot be sent any more.
  EXPECT_EQ(this->SendMedia("g", "young").status().code(), Code::kForbidden);
}

TYPED_TEST(StoreMediaTest, DeletionRacingSendsNeverLeavesADanglingReference) {
  Store& s = *this->store_;
  constexpr int kMedia = 40;
  for (int i = 0; i < kMedia; ++i) {
    ASSERT_TRUE(s.PutMedia(this->Media("r" + std::to_string(i), "cc")).ok());
  }
  std::vector<std::future<Result<AppendResult>>> sends;
  std::thread deleter([&] {
    for (int i = 0; i < kMedia; ++i) s.DeleteUnreferencedMedia("r" + std::to_string(i)).value();
  });
  for (int i = 0; i < kMedia; ++i) {
    AppendRequest request = this->Message("g", "alice", "");
    request.entry.type = "file";
    request.entry.media_id = "r" + std::to_string(i);
    sends.push_back(this->AppendAsync(std::move(request)));
  }
  deleter.join();
  for (int i = 0; i < kMedia; ++i) {
    Result<AppendResult> sent = sends[i].get();
    std::string id = "r" + std::to_string(i);
    bool referenced = !s.ListMediaRefs(id)->empty();
    bool exists = s.GetMedia(id).ok();
    // Either the send won (reference and record kept) or the deletion did (send refused).
    EXPECT_EQ(sent.ok(), referenced) << id;
    EXPECT_EQ(referenced, exists) << id;
  }
}

TYPED_TEST(StoreMediaTest, MediaSurvivesReopen) {
  ASSERT_TRUE(this->store_->PutMedia(this->Media("m1", "aa")).ok());
  ASSERT_TRUE(this->SendMedia("g", "m1").ok());
  this->Reopen();
  EXPECT_TRUE(this->store_->GetMedia("m1").ok());
  EXPECT_EQ(this->store_->ListMediaRefs("m1")->size(), 1u);
  EXPECT_TRUE(this->UnreferencedIds(2000).empty());
}

}  // namespace
}  // namespace parley::store
