// Real images for tests, made with libvips: no binary fixtures in the tree.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::media::testing {

// A `width` x `height` gradient encoded as `format`: "png", "jpeg", "gif" or
// "webp". Empty when libvips cannot write that format.
std::string EncodeTestImage(int width, int height, std::string_view format);

struct DecodedImage {
  bool ok = false;
  int width = 0;
  int height = 0;
  std::string format;  // the loader libvips picked, e.g. "jpegload_buffer"
};
// Decodes `bytes` (fully) and tells its size.
DecodedImage DecodeTestImage(const std::string& bytes);

}  // namespace parley::media::testing
