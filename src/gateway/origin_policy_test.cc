#include "gateway/origin_policy.h"

#include <gtest/gtest.h>

namespace parley::gateway {
namespace {

using Verdict = OriginPolicy::Verdict;

OriginPolicy Policy(std::vector<std::string> allowed) {
  auto p = OriginPolicy::Create(allowed);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::move(p).value();
}

TEST(OriginPolicyTest, NoOriginAndSameOriginAlwaysPass) {
  OriginPolicy none = Policy({});
  EXPECT_EQ(none.Check("", "chat.example.com"), Verdict::kNoOrigin);
  EXPECT_EQ(none.Check("https://chat.example.com", "chat.example.com"), Verdict::kSameOrigin);
  EXPECT_EQ(none.Check("https://Chat.Example.com", "chat.example.COM:443"), Verdict::kSameOrigin);
  EXPECT_EQ(none.Check("http://127.0.0.1:8080", "127.0.0.1:8080"), Verdict::kSameOrigin);
  EXPECT_EQ(none.Check("http://[::1]:8080", "[::1]:8080"), Verdict::kSameOrigin);
  // A TLS-ending proxy: the page is https, the server sees plain HTTP with the same Host.
  EXPECT_EQ(none.Check("https://chat.example.com", "chat.example.com"), Verdict::kSameOrigin);
}

TEST(OriginPolicyTest, CrossOriginIsRefusedUnlessListed) {
  OriginPolicy none = Policy({});
  EXPECT_EQ(none.Check("https://evil.example", "chat.example.com"), Verdict::kRefused);
  EXPECT_EQ(none.Check("http://127.0.0.1:9999", "127.0.0.1:8080"), Verdict::kRefused) << "other port";
  EXPECT_EQ(none.Check("null", "chat.example.com"), Verdict::kRefused);
  EXPECT_EQ(none.Check("garbage", "chat.example.com"), Verdict::kRefused);

  OriginPolicy listed = Policy({"https://app.example.com", "http://localhost:3000/"});
  EXPECT_EQ(listed.Check("https://app.example.com", "api.example.com"), Verdict::kAllowed);
  EXPECT_EQ(listed.Check("https://APP.example.com:443", "api.example.com"), Verdict::kAllowed);
  EXPECT_EQ(listed.Check("http://localhost:3000", "api.example.com"), Verdict::kAllowed);
  EXPECT_EQ(listed.Check("http://app.example.com", "api.example.com"), Verdict::kRefused)
      << "the scheme is part of a listed origin";
  EXPECT_EQ(listed.Check("https://app.example.com.evil.example", "api.example.com"),
            Verdict::kRefused);
  EXPECT_EQ(listed.Check("http://localhost:3001", "api.example.com"), Verdict::kRefused);
}

TEST(OriginPolicyTest, StarAllowsAnyOrigin) {
  OriginPolicy any = Policy({"*"});
  EXPECT_EQ(any.Check("https://anything.example", "chat.example.com"), Verdict::kAllowed);
  EXPECT_EQ(any.Check("null", "chat.example.com"), Verdict::kAllowed);
  EXPECT_EQ(any.Check("", "chat.example.com"), Verdict::kNoOrigin);
}

TEST(OriginPolicyTest, EntriesThatAreNotOriginsAreRefusedAtStartup) {
  for (std::string bad : {"example.com", "https://", "https://x.com/path", "https://x.com:99999",
                          "://x.com", "null", "1http://x.com"}) {
    auto p = OriginPolicy::Create({bad});
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), Code::kBadRequest);
    EXPECT_NE(p.status().message().find(bad), std::string::npos) << p.status().message();
  }
}

}  // namespace
}  // namespace parley::gateway
