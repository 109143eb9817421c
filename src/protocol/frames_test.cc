#include "protocol/frames.h"

#include <gtest/gtest.h>

#include "protocol/json_util.h"
#include "protocol/server_frames.h"

namespace parley::protocol {
namespace {

Limits kLimits;

TEST(DecodeTest, SendFrame) {
  auto d = DecodeClientFrame(
      R"({"op":"send","id":7,"to":"bob","content":"hi","client_msg_id":"c1"})", kLimits);
  ASSERT_TRUE(d.body.ok()) << d.body.status().ToString();
  EXPECT_EQ(d.id_json, "7");
  const auto& send = std::get<SendFrame>(*d.body);
  EXPECT_EQ(send.to, "bob");
  EXPECT_EQ(send.type, "text");
  EXPECT_EQ(send.client_msg_id, "c1");
}

TEST(DecodeTest, MediaMessagesNeedAMediaId) {
  for (const char* type : {"image", "file", "audio", "video"}) {
    std::string without = std::string(R"({"op":"send","to":"bob","type":")") + type +
                          R"(","content":"x","client_msg_id":"c1"})";
    EXPECT_EQ(DecodeClientFrame(without, kLimits).body.status().code(), Code::kBadRequest) << type;
  }
  auto with = DecodeSendBody(R"({"to":"bob","type":"image","media_id":"m1","client_msg_id":"c1"})",
                             kLimits);
  ASSERT_TRUE(with.ok()) << with.status().ToString();
  EXPECT_EQ(with->media_id, "m1");
  EXPECT_TRUE(with->content.empty());
}

TEST(DecodeTest, ErrorsKeepTheClientId) {
  auto d = DecodeClientFrame(R"({"op":"send","id":"x-1","to":"bob"})", kLimits);
  EXPECT_FALSE(d.body.ok());
  EXPECT_EQ(d.id_json, "\"x-1\"");
  EXPECT_EQ(d.body.status().code(), Code::kBadRequest);
}

TEST(DecodeTest, RejectsMalformedInput) {
  for (const char* bad : {"", "nope", "[]", "{\"op\":5}", "{\"op\":\"fly\"}",
                          "{\"op\":\"send\",\"to\":\"a\",\"conversation_id\":\"b\","
                          "\"content\":\"x\",\"client_msg_id\":\"c\"}",
                          "{\"op\":\"send\",\"to\":\"a\",\"content\":\"x\",\"client_msg_id\":\"\"}",
                          "{\"op\":\"send\",\"to\":\"a\",\"content\":3,\"client_msg_id\":\"c\"}",
                          "{\"op\":\"receipt\",\"conversation_id\":\"c\",\"kind\":\"read\","
                          "\"up_to_seq\":-1}",
                          "{\"op\":\"receipt\",\"conversation_id\":\"c\",\"kind\":\"read\","
                          "\"up_to_seq\":1.5}",
                          "{\"op\":\"typing\",\"conversation_id\":\"c\",\"state\":\"maybe\"}",
                          "{\"op\":\"presence.subscribe\",\"users\":\"bob\"}"}) {
    EXPECT_FALSE(DecodeClientFrame(bad, kLimits).body.ok()) << bad;
  }
}

TEST(DecodeTest, OversizeContentIsTooLarge) {
  std::string content(kLimits.max_text_bytes + 1, 'a');
  auto d = DecodeClientFrame(
      R"({"op":"send","to":"bob","client_msg_id":"c","content":")" + content + "\"}", kLimits);
  ASSERT_FALSE(d.body.ok());
  EXPECT_EQ(d.body.status().code(), Code::kTooLarge);
}

TEST(DecodeTest, ClientMsgIdLongerThan64IsRejected) {
  std::string id(65, 'x');
  auto d = DecodeClientFrame(
      R"({"op":"send","to":"bob","content":"x","client_msg_id":")" + id + "\"}", kLimits);
  EXPECT_FALSE(d.body.ok());
}

TEST(DecodeTest, DeepNestingIsRejected) {
  std::string deep = R"({"op":"ping","x":)" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_FALSE(DecodeClientFrame(deep, kLimits).body.ok());
}

TEST(DecodeTest, HistoryLimitIsClamped) {
  auto d = DecodeClientFrame(R"({"op":"history","conversation_id":"c","limit":5000})", kLimits);
  ASSERT_TRUE(d.body.ok());
  EXPECT_EQ(std::get<HistoryFrame>(*d.body).limit, 200u);
}

TEST(DecodeTest, PresenceSubscribeIsCapped) {
  std::string users = "[";
  for (size_t i = 0; i <= kLimits.max_presence_users; ++i) users += "\"u" + std::to_string(i) + "\",";
  users.back() = ']';
  auto d = DecodeClientFrame(R"({"op":"presence.subscribe","users":)" + users + "}", kLimits);
  ASSERT_FALSE(d.body.ok());
  EXPECT_EQ(d.body.status().code(), Code::kTooLarge);
}

TEST(DecodeTest, SendBodyOfHttpFallback) {
  auto send = DecodeSendBody(
      R"({"to":"user_id_123","content":"Hello","type":"text","client_msg_id":"uuid-1"})", kLimits);
  ASSERT_TRUE(send.ok());
  EXPECT_EQ(send->to, "user_id_123");
}

TEST(DecodeTest, LifecycleFrames) {
  auto edit = DecodeClientFrame(
      R"({"op":"edit","id":1,"conversation_id":"g:1","message_id":"42","content":"fixed","client_msg_id":"e1"})",
      kLimits);
  ASSERT_TRUE(edit.body.ok()) << edit.body.status().ToString();
  auto& e = std::get<EditFrame>(*edit.body);
  EXPECT_EQ(e.message_id, 42u);
  EXPECT_EQ(e.content, "fixed");
  EXPECT_EQ(e.client_msg_id, "e1");

  auto del = DecodeClientFrame(
      R"({"op":"delete","conversation_id":"g:1","message_id":"42","scope":"me","client_msg_id":"d1"})",
      kLimits);
  ASSERT_TRUE(del.body.ok());
  EXPECT_FALSE(std::get<DeleteFrame>(*del.body).for_everyone);

  auto react = DecodeClientFrame(
      R"({"op":"react","conversation_id":"g:1","message_id":"42","emoji":"👍🏽","client_msg_id":"r1"})",
      kLimits);
  ASSERT_TRUE(react.body.ok());
  EXPECT_EQ(std::get<ReactFrame>(*react.body).emoji, "👍🏽");
  auto clear = DecodeBodyAs(
      "react", R"({"conversation_id":"g:1","message_id":"42","emoji":"","client_msg_id":"r2"})",
      kLimits);
  ASSERT_TRUE(clear.ok());
  EXPECT_EQ(std::get<ReactFrame>(*clear).emoji, "");
  // The route names the frame, whatever "op" the body carries.
  auto as_edit = DecodeBodyAs(
      "edit",
      R"({"op":"send","conversation_id":"g:1","message_id":"7","content":"x","client_msg_id":"e"})",
      kLimits);
  ASSERT_TRUE(as_edit.ok());
  EXPECT_TRUE(std::holds_alternative<EditFrame>(*as_edit));
}

TEST(DecodeTest, LifecycleFramesRejectBadInput) {
  auto code = [](std::string_view text) {
    auto d = DecodeClientFrame(text, kLimits);
    return d.body.ok() ? Code::kOk : d.body.status().code();
  };
  const std::string target = R"("conversation_id":"g:1","client_msg_id":"c")";
  EXPECT_EQ(code(R"({"op":"edit",)" + target + R"(,"message_id":"abc","content":"x"})"),
            Code::kBadRequest);
  EXPECT_EQ(code(R"({"op":"edit",)" + target + R"(,"message_id":"0","content":"x"})"),
            Code::kBadRequest);
  EXPECT_EQ(code(R"({"op":"edit",)" + target + R"(,"message_id":42,"content":"x"})"),
            Code::kBadRequest);
  EXPECT_EQ(code(R"({"op":"edit",)" + target + R"(,"message_id":"42","content":""})"),
            Code::kBadRequest);
  EXPECT_EQ(code(R"({"op":"edit","conversation_id":"g:1","message_id":"42","content":"x"})"),
            Code::kBadRequest);
  EXPECT_EQ(code(R"({"op":"edit",)" + target + R"(,"message_id":"42","content":")" +
                 std::string(kLimits.max_text_bytes + 1, 'x') + R"("})"),
            Code::kTooLarge);
  EXPECT_EQ(code(R"({"op":"delete",)" + target + R"(,"message_id":"42"})"), Code::kBadRequest);
  EXPECT_EQ(code(R"({"op":"delete",)" + target + R"(,"message_id":"42","scope":"all"})"),
            Code::kBadRequest);
  EXPECT_EQ(code(R"({"op":"react",)" + target + R"(,"message_id":"42"})"), Code::kBadRequest);
  EXPECT_EQ(code(R"({"op":"react",)" + target + R"(,"message_id":"42","emoji":")" +
                 std::string(kLimits.max_emoji_bytes + 1, 'x') + R"("})"),
            Code::kTooLarge);
  EXPECT_EQ(code(R"({"op":"react",)" + target + R"(,"message_id":"42","emoji":"a b"})"),
            Code::kBadRequest);
  EXPECT_EQ(code(R"({"op":"react",)" + target + R"(,"message_id":"42","emoji":7})"),
            Code::kBadRequest);
}

TEST(ServerFramesTest, ErrorAndAckShapes) {
  EXPECT_EQ(ErrorFrame("3", NotFound("no such user")),
            R"({"id":3,"op":"error","code":"not_found","message":"no such user"})");
  EXPECT_EQ(ErrorBody(Forbidden("no")), R"({"error":{"code":"forbidden","message":"no"}})");
  Ack ack{"c1", "d:a:b", 42, 7, 1000};
  EXPECT_EQ(AckFrame("", ack),
            R"({"op":"ack","client_msg_id":"c1","conversation_id":"d:a:b","message_id":"42","seq":7,"ts":1000})");
  EXPECT_EQ(PongFrame(""), R"({"op":"pong"})");
  EXPECT_EQ(ErrorFrame("", RateLimited("slow down").WithRetryAfter(1500)),
            R"({"op":"error","code":"rate_limited","message":"slow down","retry_after_ms":1500})");
  EXPECT_EQ(ErrorBody(RateLimited("slow down").WithRetryAfter(1500)),
            R"({"error":{"code":"rate_limited","message":"slow down"}})");  // Retry-After instead
}

std::string Nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(ParseObjectTest, DepthIsBounded) {
  EXPECT_TRUE(ParseObject(R"({"x":)" + Nested(kMaxJsonDepth - 1) + "}").ok());
  auto deep = ParseObject(R"({"x":)" + Nested(kMaxJsonDepth) + "}");
  EXPECT_EQ(deep.status().code(), Code::kBadRequest);
  EXPECT_NE(deep.status().message().find("deeper than 16"), std::string::npos);
  EXPECT_EQ(ParseObject(Nested(100'000)).status().code(), Code::kBadRequest);
}

TEST(ParseObjectTest, MemoryIsBoundedBySize) {
  std::string numbers = R"({"x":[0)";
  while (numbers.size() < 600'000) numbers += ",0";
  auto amplified = ParseObject(numbers + "]}");
  EXPECT_EQ(amplified.status().code(), Code::kTooLarge) << amplified.status().ToString();
  std::string text = R"({"x":")" + std::string(4'000'000, 'a') + R"("})";
  auto big = ParseObject(text);
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  (*big)["op"] = "grows after parsing";  // the bound is the parse's only
  EXPECT_EQ(big->at("x").as_string().size(), 4'000'000u);
}

TEST(ParseObjectTest, InvalidUtf8IsBadRequest) {
  for (std::string bad : {"{\"x\":\"\xff\"}", "{\"x\":\"\xc0\xaf\"}",
                          "{\"x\":\"\xed\xa0\x80\"}", "{\"\xfe\":1}"}) {
    EXPECT_EQ(ParseObject(bad).status().code(), Code::kBadRequest) << bad;
  }
  EXPECT_TRUE(ParseObject("{\"x\":\"caf\xc3\xa9 \xf0\x9f\x91\x8d\"}").ok());
}

}  // namespace
}  // namespace parley::protocol
