// The typed suite every Store implementation must pass, part two: the
// preconditions of an append (membership, caps, idempotency), membership
// changes, and the read paths.
#include "store/store_test_fixture.h"

namespace parley::store {
namespace {

template <typename Factory>
class StoreStreamTest : public StoreTest<Factory> {
 protected:
  void SetUp() override {
    StoreTest<Factory>::SetUp();
    ASSERT_TRUE(
        this->AppendSync(this->Create("g", ConversationKind::kGroup, {"alice", "bob"})).ok());
  }

  Result<AppendResult> AddMember(const std::string& user, uint32_t max_members = 0) {
    AppendRequest request = this->Event("g", "alice", "member_added");
    request.entry.user_id = user;
    request.require_admin = "alice";
    request.add_members.push_back(MemberRecord{"", user});
    request.max_members = max_members;
    return this->AppendSync(std::move(request));
  }

  Result<AppendResult> RemoveMember(const std::string& user) {
    AppendRequest request = this->Event("g", "alice", "member_removed");
    request.entry.user_id = user;
    request.remove_members.push_back(user);
    return this->AppendSync(std::move(request));
  }

  std::vector<uint64_t> Seqs(const Result<std::vector<EntryRecord>>& entries) {
    EXPECT_TRUE(entries.ok()) << entries.status().ToString();
    std::vector<uint64_t> seqs;
    if (entries.ok()) {
      for (const EntryRecord& e : *entries) seqs.push_back(e.seq);
    }
    return seqs;
  }
};
TYPED_TEST_SUITE(StoreStreamTest, StoreFactories);

using Seqs = std::vector<uint64_t>;

TYPED_TEST(StoreStreamTest, IdempotentSendAcrossBatchesStoresNothingNew) {
  Result<AppendResult> first = this->AppendSync(this->Message("g", "alice", "hi", "cm-1"));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->duplicate_of);
  Result<IdempotencyRecord> stored = this->store_->GetIdempotency("alice", "cm-1");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->seq, first->entry.seq);
  EXPECT_EQ(stored->conversation_id, "g");

  Result<AppendResult> again =
      this->AppendSync(this->Message("g", "alice", "hi", "cm-1", 1'700'000'060'000));
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again->duplicate_of);
  EXPECT_EQ(again->duplicate_of->seq, first->entry.seq);
  EXPECT_EQ(again->duplicate_of->message_id, first->entry.message_id);
  EXPECT_EQ(again->duplicate_of->ts, first->entry.ts);
  EXPECT_EQ(this->LastSeq("g"), first->entry.seq);

  // Another sender may use the same client_msg_id.
  Result<AppendResult> other = this->AppendSync(this->Message("g", "bob", "hi", "cm-1"));
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->duplicate_of);
}

TYPED_TEST(StoreStreamTest, IdempotentSendWithinOneBatch) {
  std::function<void()> release = this->HoldCommitter();
  auto first = this->AppendAsync(this->Message("g", "alice", "hi", "cm-2"));
  auto second = this->AppendAsync(this->Message("g", "alice", "hi", "cm-2"));
  auto third = this->AppendAsync(this->Message("g", "alice", "other", "cm-3"));
  release();
  Result<AppendResult> r1 = first.get(), r2 = second.get(), r3 = third.get();
  ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
  EXPECT_FALSE(r1->duplicate_of);
  ASSERT_TRUE(r2->duplicate_of);
  EXPECT_EQ(r2->duplicate_of->seq, r1->entry.seq);
  EXPECT_FALSE(r3->duplicate_of);
  EXPECT_EQ(r3->entry.seq, r1->entry.seq + 1);
  EXPECT_EQ(this->LastSeq("g"), r3->entry.seq);
}

TYPED_TEST(StoreStreamTest, IdempotencyWindowExpires) {
  AppendRequest first = this->Message("g", "alice", "hi", "cm-4", 1'000'000);
  ASSERT_TRUE(this->AppendSync(std::move(first)).ok());
  AppendRequest inside = this->Message("g", "alice", "hi", "cm-4", 1'000'999);
  inside.idempotency_window_ms = 1000;
  EXPECT_TRUE(this->AppendSync(std::move(inside))->duplicate_of);
  AppendRequest outside = this->Message("g", "alice", "hi", "cm-4", 1'001'000);
  outside.idempotency_window_ms = 1000;
  Result<AppendResult> r = this->AppendSync(std::move(outside));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->duplicate_of);
  EXPECT_EQ(this->store_->GetIdempotency("alice", "cm-4")->seq, r->entry.seq);
}

TYPED_TEST(StoreStreamTest, MembershipChecksForbidAndWriteNothing) {
  AppendRequest outsider = this->Message("g", "carol", "let me in");
  outsider.require_member = "carol";
  EXPECT_EQ(this->AppendSync(std::move(outsider)).status().code(), Code::kForbidden);
  AppendRequest not_admin = this->Event("g", "bob", "renamed");
  not_admin.require_admin = "bob";
  not_admin.set_name = "Bob's";
  EXPECT_EQ(this->AppendSync(std::move(not_admin)).status().code(), Code::kForbidden);
  EXPECT_EQ(this->LastSeq("g"), 1u);
  EXPECT_EQ(this->store_->GetConversation("g")->name, "");

  // A failing request leaves no trace even between successful ones in one batch.
  std::function<void()> release = this->HoldCommitter();
  AppendRequest ok1 = this->Message("g", "bob", "1");
  ok1.require_member = "bob";
  AppendRequest bad = this->Message("g", "carol", "2", "cm-bad");
  bad.require_member = "carol";
  auto f1 = this->AppendAsync(std::move(ok1));
  auto f2 = this->AppendAsync(std::move(bad));
  auto f3 = this->AppendAsync(this->Message("g", "bob", "3"));
  release();
  EXPECT_EQ(f1.get()->entry.seq, 2u);
  EXPECT_EQ(f2.get().status().code(), Code::kForbidden);
  EXPECT_EQ(f3.get()->entry.seq, 3u);
  EXPECT_EQ(this->store_->GetIdempotency("carol", "cm-bad").status().code(), Code::kNotFound);
  EXPECT_EQ(this->Seqs(this->store_->ReadEntries("g", 0, 0, 10, false)), (Seqs{1, 2, 3}));
}

TYPED_TEST(StoreStreamTest, MaxMembersIsEnforced) {
  ASSERT_TRUE(this->AddMember("carol", 3).ok());
  EXPECT_EQ(this->store_->GetConversation("g")->member_count, 3u);
  Result<AppendResult> full = this->AddMember("dave", 3);
  EXPECT_EQ(full.status().code(), Code::kConflict);
  EXPECT_EQ(this->store_->GetMember("g", "dave").status().code(), Code::kNotFound);
  EXPECT_EQ(this->LastSeq("g"), 2u);
  // Adding a current member again is a no-op, not a cap violation.
  ASSERT_TRUE(this->AddMember("carol", 3).ok());
  EXPECT_EQ(this->store_->GetConversation("g")->member_count, 3u);
  EXPECT_EQ(this->store_->GetMember("g", "carol")->joined_seq, 2u);
}

TYPED_TEST(StoreStreamTest, MembersJoinLeaveAndRejoin) {
  uint64_t joined = this->AddMember("carol")->entry.seq;
  EXPECT_EQ(this->store_->GetMember("g", "carol")->joined_seq, joined);
  EXPECT_EQ(this->store_->GetConversation("g")->member_count, 3u);

  uint64_t left = this->RemoveMember("carol")->entry.seq;
  Result<MemberRecord> former = this->store_->GetMember("g", "carol");
  ASSERT_TRUE(former.ok());
  EXPECT_EQ(former->joined_seq, joined);
  EXPECT_EQ(former->left_seq, left);
  EXPECT_EQ(this->store_->GetConversation("g")->member_count, 2u);
  Result<std::vector<MemberRecord>> members = this->store_->ListMembers("g", "", 100);
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[0].user_id, "alice");
  EXPECT_EQ((*members)[1].user_id, "bob");
  Result<std::vector<MemberRecord>> mine = this->store_->ListUserConversations("carol");
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].conversation_id, "g");
  EXPECT_EQ((*mine)[0].left_seq, left);
  EXPECT_EQ(this->RemoveMember("carol").status().code(), Code::kNotFound);

  uint64_t rejoined = this->AddMember("carol")->entry.seq;
  Result<MemberRecord> again = this->store_->GetMember("g", "carol");
  EXPECT_EQ(again->joined_seq, rejoined);
  EXPECT_TRUE(again->current());
  EXPECT_EQ(this->store_->ListMembers("g", "", 100)->size(), 3u);
  EXPECT_EQ(this->store_->ListUserConversations("carol")->size(), 1u);
}

TYPED_TEST(StoreStreamTest, SetRolesNameAndPosting) {
  AppendRequest promote = this->Event("g", "alice", "role_changed");
  promote.require_admin = "alice";
  promote.set_roles.emplace_back("bob", Role::kAdmin);
  ASSERT_TRUE(this->AppendSync(std::move(promote)).ok());
  EXPECT_EQ(this->store_->GetMember("g", "bob")->role, Role::kAdmin);
  EXPECT_EQ(this->store_->ListMembers("g", "alice", 10)->at(0).role, Role::kAdmin);

  AppendRequest rename = this->Event("g", "bob", "renamed");
  rename.require_admin = "bob";  // bob is an admin now
  rename.set_name = "Team";
  rename.set_posting = "admins";
  ASSERT_TRUE(this->AppendSync(std::move(rename)).ok());
  Result<ConversationRecord> c = this->store_->GetConversation("g");
  EXPECT_EQ(c->name, "Team");
  EXPECT_EQ(c->posting, "admins");

  AppendRequest stranger = this->Event("g", "alice", "role_changed");
  stranger.set_roles.emplace_back("zed", Role::kAdmin);
  EXPECT_EQ(this->AppendSync(std::move(stranger)).status().code(), Code::kNotFound);
  EXPECT_EQ(this->LastSeq("g"), 3u);
}

TYPED_TEST(StoreStreamTest, LastAdminLeavingPromotesOldestMember) {
  ASSERT_TRUE(this->AddMember("carol").ok());
  ASSERT_TRUE(this->AddMember("aaron").ok());  // sorts first but joined later than bob
  AppendRequest leave = this->Event("g", "alice", "member_left");
  leave.require_member = "alice";
  leave.remove_members.push_back("alice");
  leave.promote_if_no_admin = true;
  ASSERT_TRUE(this->AppendSync(std::move(leave)).ok());
  EXPECT_EQ(this->store_->GetMember("g", "bob")->role, Role::kAdmin);
  EXPECT_EQ(this->store_->GetMember("g", "carol")->role, Role::kMember);
  EXPECT_EQ(this->store_->GetMember("g", "aaron")->role, Role::kMember);

  // With an admin left, nobody is promoted.
  AppendRequest leave2 = this->Event("g", "carol", "member_left");
  leave2.remove_members.push_back("carol");
  leave2.promote_if_no_admin = true;
  ASSERT_TRUE(this->AppendSync(std::move(leave2)).ok());
  EXPECT_EQ(this->store_->GetMember("g", "aaron")->role, Role::kMember);
}

TYPED_TEST(StoreStreamTest, PromotionSeesEarlierRequestsOfTheBatch) {
  ASSERT_TRUE(this->AddMember("carol").ok());
  std::function<void()> release = this->HoldCommitter();
  AppendRequest remove_bob = this->Event("g", "alice", "member_removed");
  remove_bob.remove_members.push_back("bob");
  AppendRequest leave = this->Event("g", "alice", "member_left");
  leave.remove_members.push_back("alice");
  leave.promote_if_no_admin = true;
  auto f1 = this->AppendAsync(std::move(remove_bob));
  auto f2 = this->AppendAsync(std::move(leave));
  release();
  ASSERT_TRUE(f1.get().ok());
  ASSERT_TRUE(f2.get().ok());
  EXPECT_FALSE(this->store_->GetMember("g", "bob")->current());
  EXPECT_EQ(this->store_->GetMember("g", "bob")->role, Role::kMember);
  EXPECT_EQ(this->store_->GetMember("g", "carol")->role, Role::kAdmin);
  Result<std::vector<MemberRecord>> members = this->store_->ListMembers("g", "", 10);
  ASSERT_EQ(members->size(), 1u);
  EXPECT_EQ(members->at(0).user_id, "carol");
  EXPECT_EQ(members->at(0).role, Role::kAdmin);
  EXPECT_EQ(this->store_->GetConversation("g")->member_count, 1u);

  // The last member leaving leaves nobody to promote.
  AppendRequest last = this->Event("g", "carol", "member_left");
  last.remove_members.push_back("carol");
  last.promote_if_no_admin = true;
  ASSERT_TRUE(this->AppendSync(std::move(last)).ok());
  EXPECT_EQ(this->store_->GetConversation("g")->member_count, 0u);
  EXPECT_TRUE(this->store_->ListMembers("g", "", 10)->empty());
}

TYPED_TEST(StoreStreamTest, ListMembersPages) {
  for (const char* user : {"carol", "dave", "erin"}) ASSERT_TRUE(this->AddMember(user).ok());
  auto page = [&](std::string_view after, size_t limit) {
    std::vector<std::string> ids;
    Result<std::vector<MemberRecord>> members = this->store_->ListMembers("g", after, limit);
    EXPECT_TRUE(members.ok());
    if (members.ok()) {
      for (const MemberRecord& m : *members) ids.push_back(m.user_id);
    }
    return ids;
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(page("", 2), (Ids{"alice", "bob"}));
  EXPECT_EQ(page("bob", 2), (Ids{"carol", "dave"}));
  EXPECT_EQ(page("dave", 2), (Ids{"erin"}));
  EXPECT_EQ(page("erin", 2), Ids{});
  EXPECT_EQ(page("b", 1), (Ids{"bob"}));  // after a non-member id
}

TYPED_TEST(StoreStreamTest, ReadEntriesHonoursBoundsAndDirection) {
  this->AppendMessages("g", 9);  // seqs 2..10 after the created event
  ASSERT_TRUE(this->AppendSync(this->Create("g2", ConversationKind::kGroup, {"alice"})).ok());
  this->AppendMessages("g2", 3);  // g2 must not leak into g (and "g" is a prefix of "g2")
  Store& s = *this->store_;
  EXPECT_EQ(this->Seqs(s.ReadEntries("g", 0, 0, 3, false)), (Seqs{1, 2, 3}));
  EXPECT_EQ(this->Seqs(s.ReadEntries("g", 0, 0, 3, true)), (Seqs{8, 9, 10}));
  EXPECT_EQ(this->Seqs(s.ReadEntries("g", 0, 6, 3, true)), (Seqs{3, 4, 5}));
  EXPECT_EQ(this->Seqs(s.ReadEntries("g", 6, 0, 3, false)), (Seqs{7, 8, 9}));
  EXPECT_EQ(this->Seqs(s.ReadEntries("g", 6, 0, 3, true)), (Seqs{8, 9, 10}));
  EXPECT_EQ(this->Seqs(s.ReadEntries("g", 2, 5, 10, false)), (Seqs{3, 4}));
  EXPECT_EQ(this->Seqs(s.ReadEntries("g", 2, 5, 10, true)), (Seqs{3, 4}));
  EXPECT_EQ(this->Seqs(s.ReadEntries("g", 0, 0, 100, false)).size(), 10u);
  EXPECT_EQ(this->Seqs(s.ReadEntries("g", 5, 6, 10, false)), Seqs{});
  EXPECT_EQ(this->Seqs(s.ReadEntries("g", 10, 0, 10, true)), Seqs{});
  EXPECT_EQ(this->Seqs(s.ReadEntries("g", 0, 0, 0, true)), Seqs{});
  EXPECT_EQ(this->Seqs(s.ReadEntries("g2", 0, 0, 100, true)), (Seqs{1, 2, 3, 4}));
  Result<std::vector<EntryRecord>> first = s.ReadEntries("g", 0, 2, 1, false);
  ASSERT_EQ(first->size(), 1u);
  EXPECT_TRUE(first->at(0).is_event);
  EXPECT_EQ(first->at(0).kind, "created");
}

TYPED_TEST(StoreStreamTest, ReadSinceVersionFollowsCommitOrder) {
  ASSERT_TRUE(this->AppendSync(this->Create("h", ConversationKind::kGroup, {"alice"})).ok());
  std::vector<uint64_t> g_versions;
  for (int i = 0; i < 6; ++i) {
    g_versions.push_back(this->AppendSync(this->Message("g", "alice", "g"))->entry.version);
    ASSERT_TRUE(this->AppendSync(this->Message("h", "alice", "h")).ok());
  }
  Store& s = *this->store_;
  Result<std::vector<EntryRecord>> all = s.ReadSinceVersion("g", 0, 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 7u);  // created + 6 messages
  for (size_t i = 1; i < all->size(); ++i) {
    EXPECT_EQ((*all)[i].version, g_versions[i - 1]);
    EXPECT_EQ((*all)[i].seq, i + 1);
    EXPECT_EQ((*all)[i].conversation_id, "g");
  }
  Result<std::vector<EntryRecord>> tail = s.ReadSinceVersion("g", g_versions[2], 2);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].version, g_versions[3]);
  EXPECT_EQ((*tail)[1].version, g_versions[4]);
  EXPECT_TRUE(s.ReadSinceVersion("g", g_versions[5], 10)->empty());
  EXPECT_TRUE(s.ReadSinceVersion("nope", 0, 10)->empty());
}

}  // namespace
}  // namespace parley::store
