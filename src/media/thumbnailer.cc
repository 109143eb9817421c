#include "media/thumbnailer.h"

#include <spdlog/spdlog.h>
#include <vips/vips.h>

#include <memory>
#include <mutex>
#include <stdexcept>

namespace parley::media {
namespace {

void InitVips() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (VIPS_INIT("parley") != 0) throw std::runtime_error("libvips failed to initialise");
    vips_block_untrusted_set(TRUE);  // only the well-tested loaders
    vips_cache_set_max(0);           // nothing is thumbnailed twice: keep no memory
    vips_concurrency_set(1);         // the media threads are the parallelism
    // Decoder complaints about bad uploads are expected: keep them out of the log.
    g_log_set_handler(
        "VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE),
        [](const gchar*, GLogLevelFlags, const gchar* message, gpointer) {
          spdlog::debug("event=vips_warning message=\"{}\"", message);
        },
        nullptr);
  });
}

struct ImageDeleter {
  void operator()(VipsImage* image) const { g_object_unref(image); }
};
using ImagePtr = std::unique_ptr<VipsImage, ImageDeleter>;

Status VipsError(std::string what) {
  std::string detail = vips_error_buffer();
  vips_error_clear();
  while (!detail.empty() && detail.back() == '\n') detail.pop_back();
  return BadRequest(detail.empty() ? what : what + ": " + detail);
}

}  // namespace

Result<ImageSize> MakeThumbnail(const std::string& source, const std::string& target, int max_side,
                                uint64_t max_pixels) {
  InitVips();
  VipsImage* raw =
      vips_image_new_from_file(source.c_str(), "access", VIPS_ACCESS_SEQUENTIAL, nullptr);
  if (raw == nullptr) return VipsError("not a readable image");
  ImagePtr original(raw);
  ImageSize size{static_cast<uint32_t>(vips_image_get_width(raw)),
                 static_cast<uint32_t>(vips_image_get_height(raw))};
  if (uint64_t{size.width} * size.height > max_pixels) {
    return BadRequest("image has too many pixels to thumbnail");
  }
  original.reset();  // header only: vips_thumbnail opens it again with shrink-on-load

  VipsImage* thumb = nullptr;
  if (vips_thumbnail(source.c_str(), &thumb, max_side, "size", VIPS_SIZE_DOWN, "fail_on",
                     VIPS_FAIL_ON_ERROR, nullptr) != 0) {
    return VipsError("cannot decode image");
  }
  ImagePtr image(thumb);
  if (vips_image_hasalpha(image.get())) {
    VipsArrayDouble* white = vips_array_double_newv(1, 255.0);
    VipsImage* flat = nullptr;
    int rc = vips_flatten(image.get(), &flat, "background", white, nullptr);
    vips_area_unref(VIPS_AREA(white));
    if (rc != 0) return VipsError("cannot flatten image");
    image.reset(flat);
  }
  if (vips_jpegsave(image.get(), target.c_str(), "Q", 80, "strip", TRUE, nullptr) != 0) {
    return VipsError("cannot write thumbnail");
  }
  return size;
}

}  // namespace parley::media
