#include "media/content_type.h"

#include <gtest/gtest.h>

namespace parley::media {
namespace {

TEST(ContentTypeTest, NormalizesAndRejectsMalformedTypes) {
  EXPECT_EQ(*NormalizeContentType("Image/PNG; charset=binary"), "image/png");
  EXPECT_EQ(*NormalizeContentType("  text/plain "), "text/plain");
  for (const char* bad :
       {"", "png", "image/", "/png", "image/png/x", "ima ge/png", "a/b\r\nX: y"}) {
    EXPECT_EQ(NormalizeContentType(bad).status().code(), Code::kBadRequest) << bad;
  }
}

TEST(ContentTypeTest, AllowListMatchesExactTypesAndWildcards) {
  std::vector<std::string> allowed = {"image/png", "audio/*"};
  EXPECT_TRUE(TypeAllowed("image/png", allowed));
  EXPECT_TRUE(TypeAllowed("audio/ogg", allowed));
  EXPECT_FALSE(TypeAllowed("image/jpeg", allowed));
  EXPECT_FALSE(TypeAllowed("audiox/ogg", allowed));
  EXPECT_FALSE(TypeAllowed("text/html", DefaultAllowedTypes()));
  EXPECT_TRUE(TypeAllowed("video/mp4", DefaultAllowedTypes()));
}

TEST(ContentTypeTest, SniffsImagesByTheirFirstBytes) {
  EXPECT_EQ(SniffImageType("\x89PNG\r\n\x1a\nrest"), "image/png");
  EXPECT_EQ(SniffImageType("\xff\xd8\xff\xe0"), "image/jpeg");
  EXPECT_EQ(SniffImageType("GIF89a...."), "image/gif");
  EXPECT_EQ(SniffImageType("GIF87a"), "image/gif");
  EXPECT_EQ(SniffImageType(std::string_view("RIFF\x10\0\0\0WEBPVP8 ", 16)), "image/webp");
  EXPECT_EQ(SniffImageType(std::string_view("RIFF\x10\0\0\0WAVEfmt ", 16)), "");
  EXPECT_EQ(SniffImageType("hello world!"), "");
  EXPECT_EQ(SniffImageType(""), "");
  EXPECT_TRUE(IsSupportedImage("image/webp"));
  EXPECT_FALSE(IsSupportedImage("image/svg+xml"));
}

TEST(ContentTypeTest, MediaIdsAreUrlSafeAndValidated) {
  std::string id = NewMediaId();
  EXPECT_TRUE(ValidMediaId(id)) << id;
  EXPECT_NE(id, NewMediaId());
  for (const char* bad : {"", "..", "../etc/passwd", "a/b", "a\\b", "a b", "%2e%2e"}) {
    EXPECT_FALSE(ValidMediaId(bad)) << bad;
  }
  EXPECT_FALSE(ValidMediaId(std::string(65, 'a')));
}

TEST(ContentTypeTest, FileNamesAreMadeSafeForHeaders) {
  EXPECT_EQ(SafeFileName("cat.png"), "cat.png");
  EXPECT_EQ(SafeFileName("../../etc/passwd"), "passwd");
  EXPECT_EQ(SafeFileName("C:\\Users\\me\\photo 1.jpg"), "photo_1.jpg");
  EXPECT_EQ(SafeFileName("a\"b\r\nc;d.txt"), "a_b__c_d.txt");
  EXPECT_EQ(SafeFileName(".hidden"), "hidden");
  EXPECT_EQ(SafeFileName(".."), "");
  EXPECT_EQ(SafeFileName("caf\xc3\xa9.png"), "caf__.png");
  std::string longer = SafeFileName(std::string(300, 'x') + ".png");
  EXPECT_EQ(longer.size(), 100u);
  EXPECT_TRUE(longer.ends_with(".png"));
  EXPECT_EQ(ExtensionFor("image/jpeg"), ".jpg");
  EXPECT_EQ(ExtensionFor("application/x-unknown"), ".bin");
}

}  // namespace
}  // namespace parley::media
