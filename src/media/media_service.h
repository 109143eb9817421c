// Media files: a content-addressed store under <data-dir>/media, access
// control, thumbnails and garbage collection. Metadata and references live in
// the Store; the bytes live here, named by their SHA-256, so identical uploads
// share one file.
//
//   media/tmp/<random>              uploads being received (cleared at start)
//   media/blobs/<sha[0:2]>/<sha>    the bytes
//   media/thumbs/<sha[0:2]>/<sha>.jpg
//
// Every call that touches files or the store blocks: run it with Run(), on
// the media threads, never on an io thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/scheduler.h"
#include "common/status.h"
#include "common/worker_pool.h"
#include "store/store.h"

namespace parley::media {

struct HashState;

struct MediaOptions {
  std::string dir;                            // <data-dir>/media
  uint64_t max_bytes = 100ULL * 1024 * 1024;  // one upload
  std::vector<std::string> allowed_types;     // empty: DefaultAllowedTypes()
  int64_t gc_age_ms = 24LL * 3600 * 1000;     // unreferenced uploads older than this go
  int64_t gc_interval_ms = 3600LL * 1000;
  size_t threads = 2;
  int thumbnail_side = 320;
  uint64_t max_thumbnail_pixels = 100'000'000;  // larger images get no thumbnail
};

class MediaService;

// One upload being received: bytes go to a temporary file and into the hash
// as they arrive. Destroying an upload that was not committed removes it.
class Upload {
 public:
  ~Upload();
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;

  // The next bytes of the body. TooLarge past the limit; BadRequest when an
  // image's first bytes do not match its declared type. After an error the
  // upload is dead: destroy it.
  Status Append(std::string_view bytes);
  uint64_t size() const { return size_; }

 private:
  friend class MediaService;
  Upload(MediaService& service, std::string uploader, std::string content_type,
         std::string file_name, std::string temp_path, int fd);
  Status CheckHead() const;
  Status WriteAll(std::string_view bytes);

  MediaService& service_;
  const std::string uploader_;
  const std::string content_type_;
  const std::string file_name_;
  const std::string temp_path_;
  int fd_;
  std::unique_ptr<HashState> hash_;
  std::string head_;  // the first kSniffBytes bytes
  uint64_t size_ = 0;
  bool committed_ = false;
};

// What a download streams: an open file (owned) and its record.
struct OpenedMedia {
  store::MediaRecord record;
  int fd = -1;
  uint64_t size = 0;  // of the opened file (the thumbnail's own size for thumbnails)
};

class MediaService {
 public:
  // Creates the directories, removes leftover temporary files and counts the
  // bytes stored. `store`, `clock` and `metrics` must outlive the service.
  static Result<std::unique_ptr<MediaService>> Open(store::Store& store, const Clock& clock,
                                                    MetricsRegistry& metrics, MediaOptions options);
  ~MediaService();

  uint64_t max_bytes() const { return options_.max_bytes; }
  // Runs blocking media work on the media threads.
  void Run(std::function<void()> task) { pool_.Post(std::move(task)); }

  // Starts an upload. BadRequest for a malformed or not allowed content type.
  Result<std::unique_ptr<Upload>> BeginUpload(std::string uploader, std::string_view content_type,
                                              std::string_view file_name);
  // Finishes a complete upload: checks it, makes the thumbnail of an image,
  // puts the bytes in place (once per content) and records the metadata.
  Result<store::MediaRecord> Commit(Upload& upload);

  // The record if `user` may read the media: its uploader, or a current
  // member of a conversation with a message carrying it that the member
  // could see. Everyone else (and malformed ids) gets NotFound.
  Result<store::MediaRecord> Readable(const std::string& user, std::string_view media_id);
  // Readable() and the file opened for reading; NotFound for a thumbnail that
  // does not exist (not an image, or one that did not decode).
  Result<OpenedMedia> OpenForRead(const std::string& user, std::string_view media_id,
                                  bool thumbnail);

  // Deletes unreferenced uploads older than gc_age_ms, and their files when
  // no other upload shares them. Returns how many uploads were deleted.
  Result<size_t> CollectGarbage();
  // Runs CollectGarbage on the media threads every gc_interval_ms.
  void ScheduleGc(Scheduler& scheduler);
  // Stops the periodic GC and drains the media threads. Call before the store closes.
  void Shutdown();

 private:
  friend class Upload;
  MediaService(store::Store& store, const Clock& clock, MetricsRegistry& metrics,
               MediaOptions options);
  std::string BlobPath(std::string_view sha256) const;
  std::string ThumbnailPath(std::string_view sha256) const;
  std::string TempPath() const;
  // Under files_mu_: moves the temporary files into place unless present.
  Status Install(const std::string& temp, const std::string& final_path);
  void RemoveFiles(std::string_view sha256);
  void ScheduleNextGc();  // gc_mu_ held
  uint64_t CountStoredBytes() const;

  store::Store& store_;
  const Clock& clock_;
  const MediaOptions options_;
  // Serialises putting files in place with deleting them, so that a new
  // upload of some bytes and the collection of their last record never
  // leave a record without its file.
  std::mutex files_mu_;
  std::mutex gc_mu_;
  Scheduler* gc_scheduler_ = nullptr;  // guarded by gc_mu_
  bool shut_down_ = false;             // guarded by gc_mu_

  Gauge& bytes_stored_;
  Counter& uploads_;
  Counter& upload_failures_;
  Counter& thumbnail_failures_;
  Counter& collected_;
  WorkerPool pool_;
};

}  // namespace parley::media
