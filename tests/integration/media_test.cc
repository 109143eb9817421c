// Media sharing against the real server: streamed uploads and downloads
// (memory stays flat for 50 MiB), hashes and dedup, ranges, thumbnails,
// access control through messages, bad input and garbage collection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/crypto.h"
#include "media/test_images.h"
#include "testing/helpers.h"

namespace parley::testing {
namespace {
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1024 * 1024;

Headers TypeHeader(std::string_view type) { return {{"Content-Type", std::string(type)}}; }

// Peak resident memory of a process, KiB (VmHWM in /proc/PID/status).
int64_t PeakRssKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

size_t FilesUnder(const fs::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    n += it->is_regular_file();
  }
  return n;
}

// Deterministic bytes that are not all alike.
std::string Pattern(size_t size, uint32_t seed) {
  std::string out(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1664525u + 1013904223u;
    out[i] = static_cast<char>(x >> 24);
  }
  return out;
}

std::string Chunked(std::string_view body, size_t chunk) {
  std::string out;
  char size[32];
  for (size_t at = 0; at < body.size(); at += chunk) {
    std::string_view part = body.substr(at, chunk);
    snprintf(size, sizeof size, "%zx\r\n", part.size());
    out.append(size).append(part).append("\r\n");
  }
  return out + "0\r\n\r\n";
}

class MediaTest : public ServerTest {
 protected:
  std::vector<std::string> ExtraArgs() override { return {"--max-media-bytes", "67108864"}; }

  HttpResponse Upload(std::string_view token, std::string_view bytes, std::string_view type,
                      std::string_view target = "/v1/media") {
    return http().Request("POST", target, bytes, token, TypeHeader(type));
  }

  // Uploads and returns the media id ("" and a failure unless 201).
  std::string UploadOk(std::string_view token, std::string_view bytes, std::string_view type) {
    HttpResponse r = Upload(token, bytes, type);
    EXPECT_EQ(r.status, 201) << r.Describe();
    return Str(r.object(), "media_id");
  }

  HttpResponse Get(std::string_view token, std::string_view id, std::string_view suffix = "",
                   const Headers& headers = {}) {
    return http().Request("GET", "/v1/media/" + std::string(id) + std::string(suffix), {}, token,
                          headers);
  }

  // A media message over WebSocket; the ack, or the error frame.
  json::object SendMedia(WsClient& ws, std::string_view conversation_or_user, bool direct,
                         std::string_view media_id, std::string_view type = "image") {
    json::object frame = direct ? SendFrame(conversation_or_user, "", UniqueCmid())
                                : ConvSendFrame(conversation_or_user, "", UniqueCmid());
    frame["type"] = type;
    frame["media_id"] = media_id;
    frame["id"] = "m1";
    ws.SendJson(frame);
    auto reply =
        ws.ReadUntil([](const json::object& f) { return Op(f) == "ack" || Op(f) == "error"; });
    return reply.value_or(json::object());
  }

  std::string MediaDir() const { return server_->data_dir() + "/media"; }
};

class SmallMediaTest : public MediaTest {
 protected:
  std::vector<std::string> ExtraArgs() override { return {"--max-media-bytes", "1048576"}; }
};

TEST_F(MediaTest, UploadAndDownloadSmallFileWithHash) {
  User alice = NewUser("alice");
  std::string bytes = Pattern(1000, 1);
  HttpResponse r = Upload(alice.token, bytes, "application/octet-stream");
  ASSERT_EQ(r.status, 201) << r.Describe();
  json::object o = r.object();
  EXPECT_EQ(Str(o, "sha256"), Sha256Hex(bytes));
  EXPECT_EQ(Int(o, "size"), 1000);
  EXPECT_EQ(Str(o, "content_type"), "application/octet-stream");
  EXPECT_FALSE(o.contains("width"));
  std::string id = Str(o, "media_id");
  ASSERT_FALSE(id.empty());

  HttpResponse got = Get(alice.token, id);
  ASSERT_EQ(got.status, 200) << got.Describe();
  EXPECT_EQ(got.body, bytes);
  EXPECT_EQ(got.Header("content-type"), "application/octet-stream");
  EXPECT_EQ(got.Header("etag"), "\"" + Sha256Hex(bytes) + "\"");
  EXPECT_EQ(got.Header("cache-control"), "private");
  EXPECT_EQ(got.Header("accept-ranges"), "bytes");
  EXPECT_EQ(got.Header("x-content-type-options"), "nosniff");
  EXPECT_EQ(got.Header("content-disposition"), "attachment; filename=\"" + id + ".bin\"");

  // A client-side name is kept, made safe.
  HttpResponse named = Upload(alice.token, "note", "text/plain",
                              "/v1/media?filename=" + UrlEncode("../my \"notes\".txt"));
  ASSERT_EQ(named.status, 201) << named.Describe();
  EXPECT_EQ(Get(alice.token, Str(named.object(), "media_id")).Header("content-disposition"),
            "attachment; filename=\"my__notes_.txt\"");

  // Revalidation by ETag.
  HttpResponse cached = Get(alice.token, id, "", {{"If-None-Match", got.Header("etag")}});
  EXPECT_EQ(cached.status, 304) << cached.Describe();
  EXPECT_TRUE(cached.body.empty());
  EXPECT_GE(MetricOnAllNodes("parley_media_uploads_total").value_or(0), 2);
  EXPECT_GE(MetricOnAllNodes("parley_media_bytes_stored").value_or(0), 1004);
}

TEST_F(MediaTest, FiftyMegabytesStreamWithFlatMemory) {
  User alice = NewUser("alice");
  std::string big = Pattern(50 * kMiB, 7);
  std::string sha = Sha256Hex(big);
  ASSERT_TRUE(Get(alice.token, "warmup").status == 404);
  int64_t before = PeakRssKib(server_->pid());
  ASSERT_GT(before, 0);

  http().set_timeout(std::chrono::seconds(120));
  HttpResponse up = Upload(alice.token, big, "application/zip");
  ASSERT_EQ(up.status, 201) << up.Describe();
  EXPECT_EQ(Str(up.object(), "sha256"), sha);
  EXPECT_EQ(Int(up.object(), "size"), static_cast<int64_t>(big.size()));
  std::string id = Str(up.object(), "media_id");
  HttpResponse down = Get(alice.token, id);
  ASSERT_EQ(down.status, 200) << down.status;
  EXPECT_EQ(down.body.size(), big.size());
  EXPECT_TRUE(down.body == big);
  int64_t after = PeakRssKib(server_->pid());
  // Buffering the body once (upload or download) would add 50 MiB; streaming
  // adds chunks. The bound is generous for allocator and RocksDB noise.
  EXPECT_LT(after - before, 24 * 1024) << "peak RSS " << before << " KiB -> " << after << " KiB";
}

TEST_F(MediaTest, IdenticalUploadsAreStoredOnce) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  std::string bytes = Pattern(5000, 3);
  HttpResponse first = Upload(alice.token, bytes, "application/pdf");
  HttpResponse second = Upload(bob.token, bytes, "application/pdf");
  ASSERT_EQ(first.status, 201);
  ASSERT_EQ(second.status, 201);
  EXPECT_NE(Str(first.object(), "media_id"), Str(second.object(), "media_id"));
  EXPECT_EQ(Str(first.object(), "sha256"), Str(second.object(), "sha256"));
  EXPECT_EQ(FilesUnder(MediaDir() + "/blobs"), 1u);
  // Each uploader reads its own id; neither reads the other's.
  EXPECT_EQ(Get(bob.token, Str(second.object(), "media_id")).body, bytes);
  EXPECT_EQ(Get(bob.token, Str(first.object(), "media_id")).status, 404);
}

TEST_F(MediaTest, SingleRangesAndBeyondTheEnd) {
  User alice = NewUser("alice");
  std::string bytes = Pattern(1000, 9);
  std::string id = UploadOk(alice.token, bytes, "application/octet-stream");

  HttpResponse part = Get(alice.token, id, "", {{"Range", "bytes=100-199"}});
  ASSERT_EQ(part.status, 206) << part.Describe();
  EXPECT_EQ(part.body, bytes.substr(100, 100));
  EXPECT_EQ(part.Header("content-range"), "bytes 100-199/1000");
  EXPECT_EQ(part.Header("content-length"), "100");

  HttpResponse tail = Get(alice.token, id, "", {{"Range", "bytes=-10"}});
  ASSERT_EQ(tail.status, 206);
  EXPECT_EQ(tail.body, bytes.substr(990));
  HttpResponse open = Get(alice.token, id, "", {{"Range", "bytes=995-"}});
  EXPECT_EQ(open.body, bytes.substr(995));

  HttpResponse beyond = Get(alice.token, id, "", {{"Range", "bytes=1000-"}});
  EXPECT_EQ(beyond.status, 416) << beyond.Describe();
  EXPECT_EQ(beyond.Header("content-range"), "bytes */1000");
  EXPECT_TRUE(beyond.IsErrorShape());
  // Several ranges are not supported: the whole file.
  HttpResponse multi = Get(alice.token, id, "", {{"Range", "bytes=0-1,5-6"}});
  EXPECT_EQ(multi.status, 200);
  EXPECT_EQ(multi.body, bytes);
}

TEST_F(MediaTest, ThumbnailsForPngAndJpegAndSizesInMessages) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  auto ws_bob = ConnectReady(port(), bob.token);
  auto ws_alice = ConnectReady(port(), alice.token);
  ASSERT_TRUE(ws_bob && ws_alice);
  for (const char* format : {"png", "jpeg"}) {
    std::string image = media::testing::EncodeTestImage(800, 600, format);
    ASSERT_FALSE(image.empty());
    HttpResponse up = Upload(alice.token, image, std::string("image/") + format);
    ASSERT_EQ(up.status, 201) << up.Describe();
    EXPECT_EQ(Int(up.object(), "width"), 800);
    EXPECT_EQ(Int(up.object(), "height"), 600);
    std::string id = Str(up.object(), "media_id");

    HttpResponse thumb = Get(alice.token, id, "/thumbnail");
    ASSERT_EQ(thumb.status, 200) << thumb.Describe();
    EXPECT_EQ(thumb.Header("content-type"), "image/jpeg");
    media::testing::DecodedImage decoded = media::testing::DecodeTestImage(thumb.body);
    ASSERT_TRUE(decoded.ok) << format;
    EXPECT_EQ(decoded.width, 320);
    EXPECT_EQ(decoded.height, 240);
    EXPECT_EQ(Get(alice.token, id).Header("content-disposition").rfind("inline;", 0), 0u);

    json::object ack = SendMedia(*ws_alice, bob.id, true, id);
    ASSERT_EQ(Op(ack), "ack") << Dump(ack);
    auto delivered = ws_bob->ReadUntil(
        [&](const json::object& f) { return Op(f) == "message" && Str(f, "media_id") == id; });
    ASSERT_TRUE(delivered) << format;
    EXPECT_EQ(Str(*delivered, "type"), "image");
    EXPECT_EQ(Int(*delivered, "width"), 800);
    EXPECT_EQ(Int(*delivered, "height"), 600);
    // The receiver may now read it, thumbnail included.
    EXPECT_EQ(Get(bob.token, id).body, image);
    EXPECT_EQ(Get(bob.token, id, "/thumbnail").status, 200);
  }
  // History and sync carry the same fields.
  auto events = HttpSyncAll(http(), bob.token);
  auto messages = MessagesOnly(events);
  ASSERT_EQ(messages.size(), 2u);
  for (const auto& m : messages) {
    EXPECT_FALSE(Str(m, "media_id").empty());
    EXPECT_EQ(Int(m, "width"), 800);
  }
  auto history = FetchAllHistory(http(), bob.token, Str(messages[0], "conversation_id"));
  ASSERT_EQ(MessagesOnly(history).size(), 2u);
  EXPECT_EQ(Int(MessagesOnly(history)[1], "height"), 600);
}

TEST_F(MediaTest, CorruptImageIsStoredWithoutThumbnail) {
  User alice = NewUser("alice");
  std::string png = media::testing::EncodeTestImage(64, 64, "png");
  std::string corrupt = png.substr(0, 50) + Pattern(500, 4);
  HttpResponse up = Upload(alice.token, corrupt, "image/png");
  ASSERT_EQ(up.status, 201) << up.Describe();
  EXPECT_FALSE(up.object().contains("width"));
  std::string id = Str(up.object(), "media_id");
  EXPECT_EQ(Get(alice.token, id).body, corrupt);
  HttpResponse thumb = Get(alice.token, id, "/thumbnail");
  EXPECT_EQ(thumb.status, 404);
  EXPECT_EQ(thumb.ErrorCode(), "not_found");
  // Not an image at all: no thumbnail either.
  std::string text = UploadOk(alice.token, "plain", "text/plain");
  EXPECT_EQ(Get(alice.token, text, "/thumbnail").status, 404);
}

TEST_F(MediaTest, AccessFollowsTheMessagesThatCarriedIt) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  User carol = NewUser("carol");
  User mallory = NewUser("mallory");
  std::string group = CreateGroup(http(), alice.token, "team", {bob.id, carol.id});
  ASSERT_FALSE(group.empty());
  std::string id = UploadOk(alice.token, "team secret", "text/plain");

  EXPECT_EQ(Get(alice.token, id).status, 200);  // the uploader
  for (const User* u : {&bob, &carol, &mallory}) {
    HttpResponse r = Get(u->token, id);
    EXPECT_EQ(r.status, 404) << u->id;  // nothing sent yet: as if it did not exist
    EXPECT_EQ(r.ErrorCode(), "not_found");
  }
  HttpResponse anonymous = Get("", id);
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(Get("not-a-token", id).status, 401);

  auto ws = ConnectReady(port(), alice.token);
  ASSERT_TRUE(ws);
  json::object ack = SendMedia(*ws, group, false, id, "file");
  ASSERT_EQ(Op(ack), "ack") << Dump(ack);
  EXPECT_EQ(Get(bob.token, id).body, "team secret");
  EXPECT_EQ(Get(carol.token, id).status, 200);
  EXPECT_EQ(Get(mallory.token, id).status, 404);

  // Removed from the group: no longer.
  HttpResponse removed =
      http().Request("DELETE", "/v1/groups/" + group + "/members/" + carol.id, {}, alice.token);
  ASSERT_EQ(removed.status / 100, 2) << removed.Describe();
  EXPECT_EQ(Get(carol.token, id).status, 404);
  EXPECT_EQ(Get(bob.token, id).status, 200);
}

TEST_F(MediaTest, SendingMediaOneCannotReadIsForbidden) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  std::string alices = UploadOk(alice.token, "alice's file", "text/plain");
  auto ws = ConnectReady(port(), bob.token);
  ASSERT_TRUE(ws);
  json::object refused = SendMedia(*ws, alice.id, true, alices, "file");
  EXPECT_EQ(Op(refused), "error") << Dump(refused);
  EXPECT_EQ(Str(refused, "code"), "forbidden");
  EXPECT_EQ(Str(SendMedia(*ws, alice.id, true, "mNoSuchMedia"), "code"), "forbidden");
  EXPECT_EQ(Str(SendMedia(*ws, alice.id, true, "../../etc"), "code"), "forbidden");

  json::object body{
      {"to", alice.id}, {"type", "image"}, {"media_id", alices}, {"client_msg_id", UniqueCmid()}};
  HttpResponse http_send = http().Post("/v1/messages", body, bob.token);
  EXPECT_EQ(http_send.status, 403) << http_send.Describe();
  // A media type without a media id is malformed.
  body.erase("media_id");
  body["content"] = "x";
  EXPECT_EQ(http().Post("/v1/messages", body, bob.token).status, 400);
  // Nothing was stored by the refusals.
  HttpResponse conversations = http().Get("/v1/conversations", bob.token);
  EXPECT_TRUE(ArrayAt(conversations.object(), "conversations").empty()) << conversations.body;
  // Once alice sends it to bob, bob may forward it (he can read it).
  auto ws_alice = ConnectReady(port(), alice.token);
  ASSERT_EQ(Op(SendMedia(*ws_alice, bob.id, true, alices, "file")), "ack");
  json::object forwarded = SendMedia(*ws, alice.id, true, alices, "file");
  EXPECT_EQ(Op(forwarded), "ack") << Dump(forwarded);
}

TEST_F(MediaTest, BadUploadsAreRefusedAndLeaveNothing) {
  User alice = NewUser("alice");
  HttpResponse empty = Upload(alice.token, "", "text/plain");
  EXPECT_EQ(empty.status, 400) << empty.Describe();
  HttpResponse lying = Upload(alice.token, "this is not a png at all", "image/png");
  EXPECT_EQ(lying.status, 400) << lying.Describe();
  std::string jpeg = media::testing::EncodeTestImage(16, 16, "jpeg");
  EXPECT_EQ(Upload(alice.token, jpeg, "image/gif").status, 400);
  HttpResponse html = Upload(alice.token, "<script>", "text/html");
  EXPECT_EQ(html.status, 400) << html.Describe();
  EXPECT_EQ(Upload(alice.token, "x", "not a type").status, 400);
  HttpResponse anonymous = Upload("", "bytes", "text/plain");
  EXPECT_EQ(anonymous.status, 401) << anonymous.Describe();
  for (HttpResponse* r : {&empty, &lying, &html, &anonymous}) EXPECT_TRUE(r->IsErrorShape());
  EXPECT_EQ(FilesUnder(MediaDir()), 0u);

  // Ids that try to leave the media directory are just unknown ids.
  for (const char* target : {"/v1/media/..%2F..%2Fstore%2FCURRENT", "/v1/media/%2e%2e",
                             "/v1/media/..", "/v1/media/%00", "/v1/media/a%2Fb/thumbnail"}) {
    HttpResponse r = http().Request("GET", target, {}, alice.token);
    EXPECT_EQ(r.status, 404) << target << " " << r.Describe();
  }
}

TEST_F(MediaTest, OversizeContentLengthIsRefusedBeforeTheBody) {
  User alice = NewUser("alice");
  // Headers only: the server must answer without waiting for 200 MiB.
  HttpResponse r =
      http().SendRaw("POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice.token +
                     "\r\nContent-Type: application/zip\r\nContent-Length: 209715200\r\n\r\n");
  EXPECT_EQ(r.status, 413) << r.Describe();
  EXPECT_EQ(r.ErrorCode(), "too_large");
  EXPECT_EQ(FilesUnder(MediaDir()), 0u);
  EXPECT_TRUE(PingPong(*ConnectReady(port(), alice.token)));  // still serving
}

TEST_F(SmallMediaTest, ChunkedBodyPastTheLimitIsCutOffAndRemoved) {
  User alice = NewUser("alice");
  std::string head = "POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice.token +
                     "\r\nContent-Type: application/zip\r\nTransfer-Encoding: chunked\r\n\r\n";
  HttpResponse r = http().SendRaw(head + Chunked(Pattern(3 * kMiB, 5), 64 * 1024));
  EXPECT_EQ(r.status, 413) << r.Describe();
  EXPECT_EQ(r.ErrorCode(), "too_large");
  EXPECT_EQ(FilesUnder(MediaDir()), 0u);  // the partial file is gone

  // Exactly the limit, chunked, is fine.
  std::string exact = Pattern(kMiB, 6);
  HttpResponse ok = http().SendRaw(head + Chunked(exact, 10'000));
  ASSERT_EQ(ok.status, 201) << ok.Describe();
  EXPECT_EQ(Str(ok.object(), "sha256"), Sha256Hex(exact));
  EXPECT_EQ(Int(ok.object(), "size"), static_cast<int64_t>(kMiB));

  // Malformed chunking.
  HttpResponse bad = http().SendRaw(head + "zz\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(bad.status, 400) << bad.Describe();
  EXPECT_EQ(FilesUnder(MediaDir() + "/tmp"), 0u);
  EXPECT_GE(MetricOnAllNodes("parley_media_upload_failures_total").value_or(0), 2);
}

TEST_F(SmallMediaTest, ClientVanishingMidUploadLeavesNoPartialFile) {
  User alice = NewUser("alice");
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string request =
      "POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice.token +
      "\r\nContent-Type: text/plain\r\nContent-Length: 500000\r\n\r\n" + Pattern(200'000, 8);
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  // Wait until the server is writing it, then go away.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (FilesUnder(MediaDir() + "/tmp") == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(FilesUnder(MediaDir() + "/tmp"), 1u);
  ::close(fd);
  while (FilesUnder(MediaDir() + "/tmp") != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(FilesUnder(MediaDir()), 0u);
}

TEST_F(MediaTest, ManyConcurrentUploads) {
  User alice = NewUser("alice");
  constexpr int kThreads = 8, kEach = 4;
  std::vector<std::thread> threads;
  std::vector<std::string> failures(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(port(), std::chrono::seconds(30));
      for (int i = 0; i < kEach; ++i) {
        std::string bytes = Pattern(200'000 + i, t * 100 + i);
        HttpResponse r = client.Request("POST", "/v1/media", bytes, alice.token,
                                        TypeHeader("application/octet-stream"));
        if (r.status != 201 || Str(r.object(), "sha256") != Sha256Hex(bytes)) {
          failures[t] += r.Describe() + "\n";
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& f : failures) EXPECT_TRUE(f.empty()) << f;
  EXPECT_EQ(FilesUnder(MediaDir() + "/blobs"), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(FilesUnder(MediaDir() + "/tmp"), 0u);
}

class MediaGcTest : public MediaTest {
 protected:
  std::vector<std::string> ExtraArgs() override {
    return {"--media-gc-age", "1", "--media-gc-interval", "1"};
  }
};

TEST_F(MediaGcTest, UnreferencedUploadsAreCollected) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  std::string orphan = UploadOk(alice.token, "nobody will see this", "text/plain");
  std::string kept = UploadOk(alice.token, "bob will see this", "text/plain");
  auto ws = ConnectReady(port(), alice.token);
  ASSERT_EQ(Op(SendMedia(*ws, bob.id, true, kept, "file")), "ack");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Get(alice.token, orphan).status != 404 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(Get(alice.token, orphan).status, 404);
  EXPECT_EQ(FilesUnder(MediaDir() + "/blobs"), 1u);
  EXPECT_EQ(Get(bob.token, kept).body, "bob will see this");
  EXPECT_GE(MetricOnAllNodes("parley_media_collected_total").value_or(0), 1);
  // Media survives a restart, references included.
  ASSERT_TRUE(RestartServer());
  EXPECT_EQ(Get(bob.token, kept).status, 200);
}

}  // namespace
}  // namespace parley::testing
