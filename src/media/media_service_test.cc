// MediaService against a real RocksDB store in a temporary directory, with a
// FakeClock for garbage collection.
#include "media/media_service.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "common/crypto.h"
#include "media/test_images.h"
#include "store/rocksdb/rocksdb_store.h"

namespace parley::media {
namespace {
namespace fs = std::filesystem;

constexpr int64_t kHour = 3600LL * 1000;

class MediaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "parley_media_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto store = store::OpenRocksDbStore(dir_ + "/store", {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    OpenMedia();
  }

  void TearDown() override {
    media_.reset();
    metrics_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void OpenMedia(uint64_t max_bytes = 1 << 20) {
    media_.reset();
    metrics_ = std::make_unique<MetricsRegistry>();
    MediaOptions options;
    options.dir = dir_ + "/media";
    options.max_bytes = max_bytes;
    options.gc_age_ms = kHour;
    auto media = MediaService::Open(*store_, clock_, *metrics_, options);
    ASSERT_TRUE(media.ok()) << media.status().ToString();
    media_ = std::move(*media);
  }

  // Uploads `bytes` in chunks of `chunk` bytes.
  Result<store::MediaRecord> Put(const std::string& bytes, const std::string& type,
                                 const std::string& user = "alice", size_t chunk = 7) {
    auto upload = media_->BeginUpload(user, type, "file.bin");
    if (!upload.ok()) return upload.status();
    for (size_t at = 0; at < bytes.size(); at += chunk) {
      PARLEY_RETURN_IF_ERROR((*upload)->Append(std::string_view(bytes).substr(at, chunk)));
    }
    return media_->Commit(**upload);
  }

  std::string ReadAll(int fd) {
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) out.append(buffer, n);
    ::close(fd);
    return out;
  }

  size_t FilesUnder(const std::string& sub) {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir_ + "/media/" + sub)) {
      n += e.is_regular_file();
    }
    return n;
  }

  Result<store::AppendResult> Append(store::AppendRequest request) {
    std::promise<Result<store::AppendResult>> done;
    store_->Append(std::move(request),
                   [&](Result<store::AppendResult> r) { done.set_value(std::move(r)); });
    return done.get_future().get();
  }

  // A group "g" created by alice with `members`; returns nothing, asserts success.
  void CreateGroup(const std::vector<std::string>& members) {
    store::AppendRequest r;
    r.entry.conversation_id = "g";
    r.entry.is_event = true;
    r.entry.kind = "created";
    r.entry.actor = "alice";
    r.create_if_missing = store::ConversationRecord{};
    for (const std::string& m : members) r.add_members.push_back({"", m});
    ASSERT_TRUE(Append(std::move(r)).ok());
  }

  Result<store::AppendResult> Send(const std::string& media_id) {
    store::AppendRequest r;
    r.entry.conversation_id = "g";
    r.entry.sender = "alice";
    r.entry.type = "file";
    r.entry.media_id = media_id;
    r.require_member = "alice";
    return Append(std::move(r));
  }

  Result<store::AppendResult> Membership(const std::string& user, bool add) {
    store::AppendRequest r;
    r.entry.conversation_id = "g";
    r.entry.is_event = true;
    r.entry.kind = add ? "member_added" : "member_removed";
    r.entry.actor = "alice";
    if (add)
      r.add_members.push_back({"", user});
    else
      r.remove_members.push_back(user);
    return Append(std::move(r));
  }

  Code ReadCode(const std::string& user, const std::string& id) {
    return media_->Readable(user, id).status().code();
  }

  std::string dir_;
  FakeClock clock_;
  std::unique_ptr<MetricsRegistry> metrics_;  // one per MediaService
  store::StorePtr store_;
  std::unique_ptr<MediaService> media_;
};

TEST_F(MediaServiceTest, StoresUploadsUnderTheirHash) {
  std::string bytes;
  for (int i = 0; i < 100'000; ++i) bytes.push_back(static_cast<char>(i * 7));
  auto record = Put(bytes, "application/octet-stream", "alice", 4096);
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_EQ(record->sha256, Sha256Hex(bytes));
  EXPECT_EQ(record->size, bytes.size());
  EXPECT_EQ(record->uploader, "alice");
  EXPECT_EQ(record->content_type, "application/octet-stream");
  EXPECT_EQ(record->file_name, "file.bin");
  EXPECT_EQ(record->created_at, clock_.NowMs());
  EXPECT_TRUE(store_->GetMedia(record->media_id).ok());

  auto opened = media_->OpenForRead("alice", record->media_id, false);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->size, bytes.size());
  EXPECT_EQ(ReadAll(opened->fd), bytes);
  EXPECT_EQ(FilesUnder("tmp"), 0u);
  EXPECT_NE(metrics_->Render().find("parley_media_uploads_total 1"), std::string::npos);
  EXPECT_NE(metrics_->Render().find("parley_media_bytes_stored 100000"), std::string::npos);
}

TEST_F(MediaServiceTest, IdenticalBytesAreStoredOnce) {
  auto first = Put("same bytes", "text/plain");
  auto second = Put("same bytes", "text/plain", "bob");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(first->media_id, second->media_id);
  EXPECT_EQ(first->sha256, second->sha256);
  EXPECT_EQ(FilesUnder("blobs"), 1u);
  EXPECT_EQ(ReadAll(media_->OpenForRead("bob", second->media_id, false)->fd), "same bytes");
}

TEST_F(MediaServiceTest, RefusesBadUploadsAndLeavesNothing) {
  OpenMedia(/*max_bytes=*/20);
  auto big = Put(std::string(21, 'x'), "text/plain");
  EXPECT_EQ(big.status().code(), Code::kTooLarge);
  EXPECT_TRUE(Put(std::string(20, 'x'), "text/plain").ok());  // exactly the limit
  EXPECT_EQ(Put("", "text/plain").status().code(), Code::kBadRequest);
  EXPECT_EQ(Put("hello world!!", "image/png").status().code(), Code::kBadRequest);
  EXPECT_EQ(Put("\x89PNG", "image/png").status().code(), Code::kBadRequest);  // too short
  EXPECT_EQ(Put("abc", "text/html").status().code(), Code::kBadRequest);      // not allowed
  EXPECT_EQ(Put("abc", "nonsense").status().code(), Code::kBadRequest);
  std::string jpeg = testing::EncodeTestImage(8, 8, "jpeg");
  EXPECT_EQ(Put(jpeg, "image/png").status().code(), Code::kBadRequest);  // a JPEG is not a PNG
  EXPECT_EQ(FilesUnder("tmp"), 0u);
  EXPECT_EQ(FilesUnder("blobs"), 1u);
  EXPECT_NE(metrics_->Render().find("parley_media_upload_failures_total 7"), std::string::npos)
      << metrics_->Render();
}

TEST_F(MediaServiceTest, MakesThumbnailsOfPngAndJpeg) {
  for (const char* format : {"png", "jpeg", "gif", "webp"}) {
    std::string image = testing::EncodeTestImage(640, 480, format);
    bool required = std::string_view(format) == "png" || std::string_view(format) == "jpeg";
    if (image.empty()) {  // gif and webp are read by every libvips, written by some
      EXPECT_FALSE(required) << "libvips cannot write " << format;
      continue;
    }
    auto record = Put(image, std::string("image/") + format, "alice", 1000);
    ASSERT_TRUE(record.ok()) << format << ": " << record.status().ToString();
    EXPECT_EQ(record->width, 640u) << format;
    EXPECT_EQ(record->height, 480u) << format;
    auto thumb = media_->OpenForRead("alice", record->media_id, true);
    ASSERT_TRUE(thumb.ok()) << format;
    testing::DecodedImage decoded = testing::DecodeTestImage(ReadAll(thumb->fd));
    ASSERT_TRUE(decoded.ok) << format;
    EXPECT_EQ(decoded.width, 320) << format;
    EXPECT_EQ(decoded.height, 240) << format;
    EXPECT_EQ(decoded.format, "jpegload_buffer") << format;
  }
  // Smaller than a thumbnail: kept at its size.
  auto small = Put(testing::EncodeTestImage(100, 50, "png"), "image/png");
  ASSERT_TRUE(small.ok());
  auto decoded =
      testing::DecodeTestImage(ReadAll(media_->OpenForRead("alice", small->media_id, true)->fd));
  EXPECT_EQ(decoded.width, 100);
  EXPECT_EQ(decoded.height, 50);
}

TEST_F(MediaServiceTest, CorruptImageIsStoredAsAFileWithoutThumbnail) {
  std::string png = testing::EncodeTestImage(64, 64, "png");
  std::string corrupt = png.substr(0, 40) + std::string(200, '\x5a');
  auto record = Put(corrupt, "image/png");
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_EQ(record->width, 0u);
  EXPECT_EQ(record->height, 0u);
  EXPECT_EQ(media_->OpenForRead("alice", record->media_id, true).status().code(), Code::kNotFound);
  EXPECT_EQ(ReadAll(media_->OpenForRead("alice", record->media_id, false)->fd), corrupt);
  EXPECT_NE(metrics_->Render().find("parley_media_thumbnail_failures_total 1"), std::string::npos);
}

TEST_F(MediaServiceTest, ReadableByUploaderAndByMembersWhoSawAMessage) {
  CreateGroup({"alice", "bob", "carol"});
  auto record = Put("secret", "text/plain");
  ASSERT_TRUE(record.ok());
  const std::string& id = record->media_id;
  EXPECT_TRUE(media_->Readable("alice", id).ok());
  EXPECT_EQ(ReadCode("bob", id), Code::kNotFound);  // not sent anywhere yet

  ASSERT_TRUE(Send(id).ok());
  EXPECT_TRUE(media_->Readable("bob", id).ok());
  EXPECT_TRUE(media_->Readable("carol", id).ok());
  EXPECT_EQ(ReadCode("mallory", id), Code::kNotFound);

  ASSERT_TRUE(Membership("carol", false).ok());  // removed: no longer
  EXPECT_EQ(ReadCode("carol", id), Code::kNotFound);
  ASSERT_TRUE(Membership("dave", true).ok());  // joined after the message: never saw it
  EXPECT_EQ(ReadCode("dave", id), Code::kNotFound);
  ASSERT_TRUE(Send(id).ok());  // sent again: now dave sees it
  EXPECT_TRUE(media_->Readable("dave", id).ok());

  for (const char* bad : {"", "../../store/CURRENT", "m/../x", "nope"}) {
    EXPECT_EQ(ReadCode("alice", bad), Code::kNotFound) << bad;
  }
}

TEST_F(MediaServiceTest, CollectsOnlyOldUnreferencedUploads) {
  CreateGroup({"alice", "bob"});
  auto orphan = Put("orphan bytes", "text/plain");
  auto shared_orphan = Put("shared bytes", "text/plain");
  auto sent = Put("shared bytes", "text/plain");
  ASSERT_TRUE(orphan.ok() && shared_orphan.ok() && sent.ok());
  ASSERT_TRUE(Send(sent->media_id).ok());
  clock_.Advance(kHour / 2);
  auto young = Put("young bytes", "text/plain");
  ASSERT_TRUE(young.ok());
  EXPECT_EQ(*media_->CollectGarbage(), 0u);  // nothing is old enough yet

  clock_.Advance(kHour / 2 + 1);
  EXPECT_EQ(*media_->CollectGarbage(), 2u);
  EXPECT_EQ(store_->GetMedia(orphan->media_id).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetMedia(shared_orphan->media_id).status().code(), Code::kNotFound);
  EXPECT_TRUE(store_->GetMedia(sent->media_id).ok());
  EXPECT_TRUE(store_->GetMedia(young->media_id).ok());
  // The orphan's file went; the shared file stays for the message that carries it.
  EXPECT_EQ(FilesUnder("blobs"), 2u);
  EXPECT_EQ(ReadAll(media_->OpenForRead("bob", sent->media_id, false)->fd), "shared bytes");
  EXPECT_NE(metrics_->Render().find("parley_media_collected_total 2"), std::string::npos);
}

TEST_F(MediaServiceTest, OpenRemovesPartialUploadsOfAPreviousRun) {
  std::ofstream(dir_ + "/media/tmp/leftover") << "a partial upload, then a crash";
  OpenMedia();
  EXPECT_EQ(FilesUnder("tmp"), 0u);
}

}  // namespace
}  // namespace parley::media
