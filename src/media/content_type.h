// Pure helpers for uploads: content types and the allow-list, recognising
// images by their first bytes, media ids and file names that are safe to put
// in a header.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace parley::media {

// The bytes SniffImageType needs to recognise every supported image.
inline constexpr size_t kSniffBytes = 12;

// "Image/PNG; charset=x" → "image/png". BadRequest unless it is type/subtype.
Result<std::string> NormalizeContentType(std::string_view header);
// Whether `type` (normalized) matches an entry of `allowed`: "type/sub" exactly or "type/*".
bool TypeAllowed(std::string_view type, const std::vector<std::string>& allowed);
// The default allow-list: common images, audio, video and documents.
std::vector<std::string> DefaultAllowedTypes();

// "image/png", "image/jpeg", "image/gif" or "image/webp" when `head` starts
// like one; else "".
std::string_view SniffImageType(std::string_view head);
// Whether `type` is one of the images recognised (and thumbnailed) above.
bool IsSupportedImage(std::string_view type);

// A new random media id, and whether an id could be one (no path tricks).
std::string NewMediaId();
bool ValidMediaId(std::string_view id);

// The last path component of a client-supplied name, reduced to
// [A-Za-z0-9._-] (others become '_'), without leading dots, at most 100 bytes.
std::string SafeFileName(std::string_view name);
// A file extension for a content type (".png", ".bin" when unknown).
std::string_view ExtensionFor(std::string_view type);

}  // namespace parley::media
