// Image thumbnails with libvips: blocking, CPU-heavy calls for the media
// threads (never an io thread).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace parley::media {

struct ImageSize {
  uint32_t width = 0;
  uint32_t height = 0;
};

// Decodes the image in `source` (any format libvips trusts) and writes a JPEG
// of it to `target`, shrunk so that its longest side is at most `max_side`
// (smaller images keep their size; transparency becomes white). Returns the
// size of the original. A file that does not decode completely is an error
// (kBadRequest); so is one with more than `max_pixels` pixels.
Result<ImageSize> MakeThumbnail(const std::string& source, const std::string& target, int max_side,
                                uint64_t max_pixels);

}  // namespace parley::media
