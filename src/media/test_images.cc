#include "media/test_images.h"

#include <vips/vips.h>

#include <memory>

namespace parley::media::testing {
namespace {

struct Unref {
  void operator()(VipsImage* image) const { g_object_unref(image); }
};
using ImagePtr = std::unique_ptr<VipsImage, Unref>;

void Init() {
  static const int ok = VIPS_INIT("parley-test");
  (void)ok;
}

}  // namespace

std::string EncodeTestImage(int width, int height, std::string_view format) {
  Init();
  VipsImage* ramp = nullptr;
  if (vips_xyz(&ramp, width, height, nullptr) != 0) return "";
  ImagePtr xyz(ramp);
  VipsImage* bytes = nullptr;  // two bands of coordinates, as 8-bit colour
  if (vips_cast(xyz.get(), &bytes, VIPS_FORMAT_UCHAR, nullptr) != 0) return "";
  ImagePtr cast(bytes);
  VipsImage* band = nullptr;
  if (vips_extract_band(cast.get(), &band, 0, "n", 1, nullptr) != 0) return "";
  ImagePtr grey(band);
  void* buffer = nullptr;
  size_t size = 0;
  int rc = -1;
  if (format == "png") rc = vips_pngsave_buffer(grey.get(), &buffer, &size, nullptr);
  if (format == "jpeg") rc = vips_jpegsave_buffer(grey.get(), &buffer, &size, nullptr);
  if (format == "gif") rc = vips_gifsave_buffer(grey.get(), &buffer, &size, nullptr);
  if (format == "webp") rc = vips_webpsave_buffer(grey.get(), &buffer, &size, nullptr);
  if (rc != 0) {
    vips_error_clear();
    return "";
  }
  std::string out(static_cast<const char*>(buffer), size);
  g_free(buffer);
  return out;
}

DecodedImage DecodeTestImage(const std::string& bytes) {
  Init();
  DecodedImage out;
  VipsImage* raw = vips_image_new_from_buffer(bytes.data(), bytes.size(), "", "fail_on",
                                              VIPS_FAIL_ON_ERROR, nullptr);
  if (raw == nullptr) {
    vips_error_clear();
    return out;
  }
  ImagePtr image(raw);
  double average = 0;
  if (vips_avg(image.get(), &average, nullptr) != 0) {  // forces a full decode
    vips_error_clear();
    return out;
  }
  const char* loader = nullptr;
  if (vips_image_get_string(image.get(), "vips-loader", &loader) == 0 && loader) {
    out.format = loader;
  }
  out.ok = true;
  out.width = vips_image_get_width(image.get());
  out.height = vips_image_get_height(image.get());
  return out;
}

}  // namespace parley::media::testing
