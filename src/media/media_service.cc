#include "media/media_service.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/crypto.h"
#include "media/content_type.h"
#include "media/thumbnailer.h"

namespace parley::media {
namespace fs = std::filesystem;

// SHA-256 computed while the bytes stream through (OpenSSL EVP).
struct HashState {
  HashState() : ctx(EVP_MD_CTX_new()) {
    if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
      throw std::runtime_error("cannot initialise SHA-256");
    }
  }
  ~HashState() { EVP_MD_CTX_free(ctx); }
  void Update(std::string_view bytes) { EVP_DigestUpdate(ctx, bytes.data(), bytes.size()); }
  std::string FinalHex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx, digest, &length);
    return HexEncode({reinterpret_cast<const char*>(digest), length});
  }
  EVP_MD_CTX* ctx;
};

namespace {

constexpr size_t kGcBatch = 500;

Status Errno(std::string what) { return Unavailable(what + ": " + std::strerror(errno)); }

Status SyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Errno("open " + path);
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Errno("fsync " + path);
}

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

}  // namespace

Upload::Upload(MediaService& service, std::string uploader, std::string content_type,
               std::string file_name, std::string temp_path, int fd)
    : service_(service),
      uploader_(std::move(uploader)),
      content_type_(std::move(content_type)),
      file_name_(std::move(file_name)),
      temp_path_(std::move(temp_path)),
      fd_(fd),
      hash_(std::make_unique<HashState>()) {}

Upload::~Upload() {
  if (fd_ >= 0) ::close(fd_);
  if (committed_) return;
  ::unlink(temp_path_.c_str());  // a partial or refused upload leaves nothing
  service_.upload_failures_.Inc();
}

Status Upload::Append(std::string_view bytes) {
  if (fd_ < 0) return BadRequest("upload is closed");
  if (bytes.size() > service_.max_bytes() - size_) {
    return TooLarge("media is larger than " + std::to_string(service_.max_bytes()) + " bytes");
  }
  if (head_.size() < kSniffBytes) {
    head_.append(bytes.substr(0, kSniffBytes - head_.size()));
    if (head_.size() == kSniffBytes) PARLEY_RETURN_IF_ERROR(CheckHead());
  }
  PARLEY_RETURN_IF_ERROR(WriteAll(bytes));
  hash_->Update(bytes);
  size_ += bytes.size();
  return Status::Ok();
}

// An upload that claims to be an image must start like one.
Status Upload::CheckHead() const {
  if (!IsSupportedImage(content_type_)) return Status::Ok();
  if (SniffImageType(head_) != content_type_) {
    return BadRequest("the content is not " + content_type_);
  }
  return Status::Ok();
}

Status Upload::WriteAll(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write upload");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

MediaService::MediaService(store::Store& store, const Clock& clock, MetricsRegistry& metrics,
                           MediaOptions options)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      bytes_stored_(metrics.AddGauge("parley_media_bytes_stored",
                                     "Bytes of media files and thumbnails on disk")),
      uploads_(metrics.AddCounter("parley_media_uploads_total", "Media uploads stored")),
      upload_failures_(metrics.AddCounter("parley_media_upload_failures_total",
                                          "Media uploads refused or cut short")),
      thumbnail_failures_(metrics.AddCounter("parley_media_thumbnail_failures_total",
                                             "Image uploads whose thumbnail could not be made")),
      collected_(metrics.AddCounter("parley_media_collected_total",
                                    "Unreferenced uploads deleted by garbage collection")),
      pool_(options_.threads, "media") {}

MediaService::~MediaService() { Shutdown(); }

Result<std::unique_ptr<MediaService>> MediaService::Open(store::Store& store, const Clock& clock,
                                                         MetricsRegistry& metrics,
                                                         MediaOptions options) {
  if (options.allowed_types.empty()) options.allowed_types = DefaultAllowedTypes();
  std::error_code ec;
  fs::remove_all(options.dir + "/tmp", ec);  // partial uploads of a previous run
  for (const char* sub : {"/tmp", "/blobs", "/thumbs"}) {
    fs::create_directories(options.dir + sub, ec);
    if (ec) return Unavailable("cannot create " + options.dir + sub + ": " + ec.message());
  }
  std::unique_ptr<MediaService> service(
      new MediaService(store, clock, metrics, std::move(options)));
  service->bytes_stored_.Set(static_cast<int64_t>(service->CountStoredBytes()));
  return service;
}

uint64_t MediaService::CountStoredBytes() const {
  uint64_t total = 0;
  for (const char* sub : {"/blobs", "/thumbs"}) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(options_.dir + sub, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec)) total += it->file_size(ec);
    }
  }
  return total;
}

std::string MediaService::BlobPath(std::string_view sha256) const {
  return options_.dir + "/blobs/" + std::string(sha256.substr(0, 2)) + "/" + std::string(sha256);
}

std::string MediaService::ThumbnailPath(std::string_view sha256) const {
  return options_.dir + "/thumbs/" + std::string(sha256.substr(0, 2)) + "/" + std::string(sha256) +
         ".jpg";
}

std::string MediaService::TempPath() const { return options_.dir + "/tmp/" + RandomToken(12); }

Result<std::unique_ptr<Upload>> MediaService::BeginUpload(std::string uploader,
                                                          std::string_view content_type,
                                                          std::string_view file_name) {
  Result<std::string> type = NormalizeContentType(content_type);
  if (type.ok() && !TypeAllowed(*type, options_.allowed_types)) {
    type = BadRequest("content type " + *type + " is not accepted here");
  }
  if (!type.ok()) {
    upload_failures_.Inc();
    return type.status();
  }
  std::string temp = TempPath();
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    upload_failures_.Inc();
    return Errno("create upload file");
  }
  return std::unique_ptr<Upload>(new Upload(*this, std::move(uploader), std::move(*type),
                                            SafeFileName(file_name), std::move(temp), fd));
}

Result<store::MediaRecord> MediaService::Commit(Upload& upload) {
  if (upload.fd_ < 0 || upload.committed_) return BadRequest("upload is closed");
  if (upload.size_ == 0) return BadRequest("an upload needs at least one byte");
  PARLEY_RETURN_IF_ERROR(upload.CheckHead());  // bodies shorter than the sniffed head
  if (::fsync(upload.fd_) != 0) return Errno("fsync upload");
  ::close(upload.fd_);
  upload.fd_ = -1;

  store::MediaRecord record;
  record.media_id = NewMediaId();
  record.sha256 = upload.hash_->FinalHex();
  record.size = upload.size_;
  record.content_type = upload.content_type_;
  record.uploader = upload.uploader_;
  record.file_name = upload.file_name_;
  record.created_at = clock_.NowMs();

  // A thumbnail that cannot be made leaves a plain file: no size, no thumbnail.
  std::string thumb_temp;
  if (IsSupportedImage(record.content_type)) {
    thumb_temp = TempPath();
    Result<ImageSize> size = MakeThumbnail(upload.temp_path_, thumb_temp, options_.thumbnail_side,
                                           options_.max_thumbnail_pixels);
    if (size.ok()) {
      record.width = size->width;
      record.height = size->height;
    } else {
      thumbnail_failures_.Inc();
      spdlog::info("event=thumbnail_failed media={} error=\"{}\"", record.media_id,
                   size.status().message());
      ::unlink(thumb_temp.c_str());
      thumb_temp.clear();
    }
  }

  std::lock_guard lock(files_mu_);
  Status installed = Install(upload.temp_path_, BlobPath(record.sha256));
  if (installed.ok() && !thumb_temp.empty()) {
    installed = Install(thumb_temp, ThumbnailPath(record.sha256));
  }
  if (!thumb_temp.empty()) ::unlink(thumb_temp.c_str());  // when not moved
  PARLEY_RETURN_IF_ERROR(installed);
  Status put = store_.PutMedia(record);
  if (!put.ok()) {
    // The files may be another record's: remove them only when nothing names them.
    Result<bool> named = store_.HasMediaWithSha256(record.sha256);
    if (named.ok() && !*named) RemoveFiles(record.sha256);
    return put;
  }
  upload.committed_ = true;
  uploads_.Inc();
  return record;
}

Status MediaService::Install(const std::string& temp, const std::string& final_path) {
  std::error_code ec;
  if (fs::exists(final_path, ec)) {
    ::unlink(temp.c_str());  // the same bytes are stored already
    return Status::Ok();
  }
  std::string dir = fs::path(final_path).parent_path().string();
  fs::create_directories(dir, ec);
  if (ec) return Unavailable("cannot create " + dir + ": " + ec.message());
  if (::rename(temp.c_str(), final_path.c_str()) != 0) return Errno("install media file");
  bytes_stored_.Add(static_cast<int64_t>(FileSize(final_path)));
  return SyncPath(dir, O_RDONLY | O_DIRECTORY);  // the rename survives a crash
}

void MediaService::RemoveFiles(std::string_view sha256) {
  for (const std::string& path : {BlobPath(sha256), ThumbnailPath(sha256)}) {
    uint64_t size = FileSize(path);
    if (::unlink(path.c_str()) == 0) bytes_stored_.Add(-static_cast<int64_t>(size));
  }
}

Result<store::MediaRecord> MediaService::Readable(const std::string& user,
                                                  std::string_view media_id) {
  if (!ValidMediaId(media_id)) return NotFound("no such media");
  Result<store::MediaRecord> record = store_.GetMedia(media_id);
  if (!record.ok()) {
    if (record.status().code() == Code::kNotFound) return NotFound("no such media");
    return record.status();
  }
  if (record->uploader == user) return record;
  Result<std::vector<store::MediaRefRecord>> refs = store_.ListMediaRefs(media_id);
  if (!refs.ok()) return refs.status();
  for (const store::MediaRefRecord& ref : *refs) {
    Result<store::MemberRecord> member = store_.GetMember(ref.conversation_id, user);
    if (member.ok() && member->current() && member->joined_seq <= ref.seq) return record;
    if (!member.ok() && member.status().code() != Code::kNotFound) return member.status();
  }
  return NotFound("no such media");  // the same answer as for ids that do not exist
}

Result<OpenedMedia> MediaService::OpenForRead(const std::string& user, std::string_view media_id,
                                              bool thumbnail) {
  Result<store::MediaRecord> record = Readable(user, media_id);
  if (!record.ok()) return record.status();
  std::string path = thumbnail ? ThumbnailPath(record->sha256) : BlobPath(record->sha256);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (thumbnail && errno == ENOENT) return NotFound("this media has no thumbnail");
    return Errno("open media file");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status s = Errno("stat media file");
    ::close(fd);
    return s;
  }
  return OpenedMedia{std::move(*record), fd, static_cast<uint64_t>(st.st_size)};
}

Result<size_t> MediaService::CollectGarbage() {
  Result<std::vector<store::MediaRecord>> old =
      store_.ListUnreferencedMedia(clock_.NowMs() - options_.gc_age_ms, kGcBatch);
  if (!old.ok()) return old.status();
  size_t deleted = 0;
  for (const store::MediaRecord& media : *old) {
    std::lock_guard lock(files_mu_);
    Result<bool> gone = store_.DeleteUnreferencedMedia(media.media_id);
    if (!gone.ok()) return gone.status();
    if (!*gone) continue;  // a message carried it meanwhile
    ++deleted;
    collected_.Inc();
    Result<bool> shared = store_.HasMediaWithSha256(media.sha256);
    if (!shared.ok()) return shared.status();
    if (!*shared) RemoveFiles(media.sha256);
  }
  if (deleted > 0) spdlog::info("event=media_gc deleted={}", deleted);
  return deleted;
}

void MediaService::ScheduleGc(Scheduler& scheduler) {
  std::lock_guard lock(gc_mu_);
  if (shut_down_) return;
  gc_scheduler_ = &scheduler;
  ScheduleNextGc();
}

void MediaService::ScheduleNextGc() {
  gc_scheduler_->After(options_.gc_interval_ms, [this] {
    std::lock_guard lock(gc_mu_);
    if (shut_down_) return;
    Run([this] {
      Result<size_t> collected = CollectGarbage();
      if (!collected.ok()) {
        spdlog::warn("event=media_gc_failed error=\"{}\"", collected.status().ToString());
      }
      std::lock_guard lock(gc_mu_);
      if (!shut_down_) ScheduleNextGc();
    });
  });
}

void MediaService::Shutdown() {
  {
    std::lock_guard lock(gc_mu_);
    shut_down_ = true;
  }
  pool_.Shutdown();
}

}  // namespace parley::media
