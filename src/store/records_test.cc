#include "store/records.h"

#include <gtest/gtest.h>

#include <random>

namespace parley::store {
namespace {

TEST(KindRoleTest, NamesRoundTrip) {
  for (ConversationKind k :
       {ConversationKind::kDirect, ConversationKind::kGroup, ConversationKind::kChannel}) {
    EXPECT_EQ(ParseKind(KindName(k)), k);
  }
  for (Role r : {Role::kMember, Role::kAdmin}) EXPECT_EQ(ParseRole(RoleName(r)), r);
  EXPECT_EQ(KindName(ConversationKind::kChannel), "channel");
  EXPECT_EQ(RoleName(Role::kAdmin), "admin");
  EXPECT_FALSE(ParseKind("Direct"));
  EXPECT_FALSE(ParseRole(""));
}

TEST(RecordsTest, UserRoundTrip) {
  UserRecord u{"alice", "Alice A.", "$argon2id$v=19$...", 17, 42, false};
  Result<UserRecord> d = DecodeUser(EncodeUser(u));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->user_id, "alice");
  EXPECT_EQ(d->display_name, "Alice A.");
  EXPECT_EQ(d->password_hash, u.password_hash);
  EXPECT_EQ(d->created_at, 17);
  EXPECT_EQ(d->last_seen, 42);
  EXPECT_FALSE(d->show_last_seen);
}

TEST(RecordsTest, TokenRoundTrip) {
  TokenRecord t{"abcdef", "bob", "phone", 1, -5};
  Result<TokenRecord> d = DecodeToken(EncodeToken(t));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->token_hash, "abcdef");
  EXPECT_EQ(d->user_id, "bob");
  EXPECT_EQ(d->device, "phone");
  EXPECT_EQ(d->created_at, 1);
  EXPECT_EQ(d->expires_at, -5);
}

TEST(RecordsTest, ConversationRoundTrip) {
  ConversationRecord c;
  c.conversation_id = "g:1";
  c.kind = ConversationKind::kChannel;
  c.name = "News";
  c.posting = "admins";
  c.created_by = "carol";
  c.created_at = 99;
  c.last_seq = UINT64_MAX;
  c.last_version = 1ULL << 40;
  c.member_count = 100'000;
  Result<ConversationRecord> d = DecodeConversation(EncodeConversation(c));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->conversation_id, "g:1");
  EXPECT_EQ(d->kind, ConversationKind::kChannel);
  EXPECT_EQ(d->name, "News");
  EXPECT_EQ(d->posting, "admins");
  EXPECT_EQ(d->created_by, "carol");
  EXPECT_EQ(d->created_at, 99);
  EXPECT_EQ(d->last_seq, UINT64_MAX);
  EXPECT_EQ(d->last_version, 1ULL << 40);
  EXPECT_EQ(d->member_count, 100'000u);
}

TEST(RecordsTest, MemberRoundTrip) {
  MemberRecord m{"c", "dave", Role::kAdmin, 3, 9, 1234};
  Result<MemberRecord> d = DecodeMember(EncodeMember(m));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->conversation_id, "c");
  EXPECT_EQ(d->user_id, "dave");
  EXPECT_EQ(d->role, Role::kAdmin);
  EXPECT_EQ(d->joined_seq, 3u);
  EXPECT_EQ(d->left_seq, 9u);
  EXPECT_EQ(d->joined_at, 1234);
  EXPECT_FALSE(d->current());
}

TEST(RecordsTest, EntryRoundTripKeepsEveryField) {
  EntryRecord e;
  e.conversation_id = "c";
  e.seq = 7;
  e.version = 70;
  e.ts = 1'700'000'000'000;
  e.message_id = UINT64_MAX - 1;
  e.sender = "alice";
  e.type = "text";
  constexpr char kContent[] = "quote \" backslash \\ nul \0 and \xff\xfe bytes";
  e.content = std::string(kContent, sizeof kContent - 1);
  e.client_msg_id = "m-1";
  e.media_id = "media";
  e.media_width = 320;
  e.media_height = 200;
  e.reply_to = "5";
  Result<EntryRecord> d = DecodeEntry(EncodeEntry(e));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->seq, 7u);
  EXPECT_EQ(d->version, 70u);
  EXPECT_EQ(d->ts, e.ts);
  EXPECT_FALSE(d->is_event);
  EXPECT_EQ(d->message_id, e.message_id);
  EXPECT_EQ(d->content, e.content);
  EXPECT_EQ(d->client_msg_id, "m-1");
  EXPECT_EQ(d->media_id, "media");
  EXPECT_EQ(d->reply_to, "5");
  EXPECT_EQ(d->media_width, 320u);
  EXPECT_EQ(d->media_height, 200u);

  EntryRecord ev;
  ev.conversation_id = "c";
  ev.seq = 1;
  ev.is_event = true;
  ev.kind = "member_added";
  ev.actor = "alice";
  ev.user_id = "bob";
  ev.name = "Team";
  ev.role = "admin";
  ev.posting = "admins";
  ev.promoted = "carol";
  Result<EntryRecord> dev = DecodeEntry(EncodeEntry(ev));
  ASSERT_TRUE(dev.ok());
  EXPECT_TRUE(dev->is_event);
  EXPECT_EQ(dev->kind, "member_added");
  EXPECT_EQ(dev->actor, "alice");
  EXPECT_EQ(dev->user_id, "bob");
  EXPECT_EQ(dev->name, "Team");
  EXPECT_EQ(dev->role, "admin");
  EXPECT_EQ(dev->posting, "admins");
  EXPECT_EQ(dev->promoted, "carol");
  EXPECT_TRUE(dev->sender.empty());
}

TEST(RecordsTest, IdempotencyRoundTrip) {
  IdempotencyRecord i{"alice", "cm-1", "c", 55, 4, 1000};
  Result<IdempotencyRecord> d = DecodeIdempotency(EncodeIdempotency(i));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->sender, "alice");
  EXPECT_EQ(d->client_msg_id, "cm-1");
  EXPECT_EQ(d->conversation_id, "c");
  EXPECT_EQ(d->message_id, 55u);
  EXPECT_EQ(d->seq, 4u);
  EXPECT_EQ(d->ts, 1000);
}

TEST(RecordsTest, RejectsMalformedValues) {
  for (std::string_view bad : {
           "", "{", "null", "[]", "\"x\"", "42", "{}",
           R"({"conversation_id":"c"})",                                    // seq is required
           R"({"conversation_id":"c","seq":-1})",                           // negative seq
           R"({"conversation_id":"c","seq":1.5})",                          // not an integer
           R"({"conversation_id":"c","seq":"1"})",                          // wrong type
           R"({"conversation_id":1,"seq":1})",                              // wrong type
           R"({"conversation_id":"c","seq":1,"ts":18446744073709551615})",  // ts overflows
           R"({"conversation_id":"c","seq":1,"is_event":1})",               // not a bool
           R"({"conversation_id":"c","seq":1} trailing)",
           R"({"conversation_id":"c","seq":1,"x":[[[[[[[[]]]]]]]]})",  // too deep
       }) {
    Result<EntryRecord> d = DecodeEntry(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().code(), Code::kInternal) << bad;
  }
  EXPECT_FALSE(DecodeConversation(R"({"conversation_id":"c","kind":"dm"})").ok());
  EXPECT_FALSE(DecodeConversation(R"({"conversation_id":"c","kind":"group",
                                      "member_count":4294967296})")
                   .ok());
  EXPECT_FALSE(DecodeMember(R"({"conversation_id":"c","user_id":"u","role":"owner"})").ok());
  EXPECT_FALSE(DecodeMember(R"({"conversation_id":"c","user_id":"u"})").ok());
  EXPECT_FALSE(DecodeUser(R"({"display_name":"no id"})").ok());
  EXPECT_FALSE(DecodeToken(R"({"token_hash":"t"})").ok());
  EXPECT_FALSE(DecodeIdempotency(R"({"sender":"a","client_msg_id":"c"})").ok());
}

// A cheap in-process fuzz: random bytes and mutations of valid records must
// decode or fail cleanly, never crash or throw.
TEST(RecordsTest, SurvivesGarbage) {
  std::mt19937 rng(1234);
  EntryRecord e;
  e.conversation_id = "c";
  e.seq = 3;
  e.content = "hello";
  std::string valid = EncodeEntry(e);
  for (int i = 0; i < 20000; ++i) {
    std::string input;
    if (i % 2 == 0) {
      input.resize(rng() % 64);
      for (char& c : input) c = static_cast<char>(rng());
    } else {
      input = valid;
      for (int k = 0; k < 3; ++k) input[rng() % input.size()] = static_cast<char>(rng());
    }
    (void)DecodeEntry(input);
    (void)DecodeConversation(input);
    (void)DecodeMember(input);
    (void)DecodeUser(input);
    (void)DecodeBe64(input);
    (void)NumberFromKey(input);
  }
}

TEST(KeysTest, Be64RoundTripAndOrder) {
  for (uint64_t v : std::vector<uint64_t>{0, 1, 255, 256, 1ULL << 32, UINT64_MAX}) {
    EXPECT_EQ(EncodeBe64(v).size(), 8u);
    Result<uint64_t> d = DecodeBe64(EncodeBe64(v));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, v);
  }
  EXPECT_LT(EncodeBe64(255), EncodeBe64(256));
  EXPECT_LT(EncodeBe64(1ULL << 32), EncodeBe64(UINT64_MAX));
  EXPECT_FALSE(DecodeBe64("1234567").ok());
  EXPECT_FALSE(DecodeBe64("123456789").ok());
}

TEST(KeysTest, NumberKeysSortNumericallyWithinTheirPrefix) {
  std::vector<uint64_t> numbers = {1, 2, 255, 256, 65535, 65536, 1ULL << 40, UINT64_MAX};
  for (size_t i = 1; i < numbers.size(); ++i) {
    EXPECT_LT(NumberKey("c", numbers[i - 1]), NumberKey("c", numbers[i]));
  }
  // Every key of "a" sorts before any key of "ab", and inside the prefix range.
  EXPECT_LT(NumberKey("a", UINT64_MAX), NumberKey("ab", 0));
  EXPECT_LT(NumberKey("a", UINT64_MAX), KeyPrefixEnd("a"));
  EXPECT_LT(KeyPrefixEnd("a"), NumberKey("ab", 0));
  EXPECT_LE(KeyPrefix("a"), NumberKey("a", 0));
  Result<uint64_t> n = NumberFromKey(NumberKey("conv", 77));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 77u);
  EXPECT_FALSE(NumberFromKey("short").ok());
}

TEST(RecordsTest, MediaRecordsRoundTrip) {
  MediaRecord m{"m1", "ab12", 99, "image/png", "alice", "cat.png", 1234, 640, 480};
  Result<MediaRecord> d = DecodeMedia(EncodeMedia(m));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->media_id, "m1");
  EXPECT_EQ(d->sha256, "ab12");
  EXPECT_EQ(d->size, 99u);
  EXPECT_EQ(d->content_type, "image/png");
  EXPECT_EQ(d->uploader, "alice");
  EXPECT_EQ(d->file_name, "cat.png");
  EXPECT_EQ(d->created_at, 1234);
  EXPECT_EQ(d->width, 640u);
  EXPECT_EQ(d->height, 480u);
  EXPECT_FALSE(DecodeMedia(R"({"media_id":"m"})").ok());  // no sha256

  MediaRefRecord ref{"m1", "conv", 7, 55};
  Result<MediaRefRecord> r = DecodeMediaRef(EncodeMediaRef(ref));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->conversation_id, "conv");
  EXPECT_EQ(r->seq, 7u);
  EXPECT_EQ(r->ts, 55);
  EXPECT_FALSE(DecodeMediaRef("[]").ok());
}

TEST(KeysTest, PairKeysSortByFirstThenSecond) {
  EXPECT_EQ(PairKey("c", "u"), std::string("c\0u", 3));
  EXPECT_LT(PairKey("a", "zzz"), PairKey("ab", "a"));
  EXPECT_LT(PairKey("a", "b"), PairKey("a", "ba"));
  EXPECT_LT(PairKey("a", "zzz"), KeyPrefixEnd("a"));
  EXPECT_EQ(KeyPrefix("a"), std::string("a\0", 2));
  // The successor of a pair key: what ListMembers starts after.
  EXPECT_LT(PairKey("a", "b"), KeyPrefix(PairKey("a", "b")));
  EXPECT_LT(KeyPrefix(PairKey("a", "b")), PairKey("a", "b0"));
}

}  // namespace
}  // namespace parley::store
