#include "media/content_type.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "common/crypto.h"

namespace parley::media {
namespace {

constexpr std::string_view kTokenChars = "abcdefghijklmnopqrstuvwxyz0123456789!#$&^_.+-";
constexpr std::string_view kIdChars =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
constexpr size_t kMaxFileName = 100;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsToken(std::string_view s) {
  return !s.empty() && s.size() <= 64 && s.find_first_not_of(kTokenChars) == std::string_view::npos;
}

struct ImageKind {
  std::string_view type;
  std::string_view extension;
};
constexpr std::array<ImageKind, 4> kImages = {{{"image/png", ".png"},
                                               {"image/jpeg", ".jpg"},
                                               {"image/gif", ".gif"},
                                               {"image/webp", ".webp"}}};

}  // namespace

Result<std::string> NormalizeContentType(std::string_view header) {
  std::string_view value = Trim(header.substr(0, header.find(';')));
  std::string lower(value);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  size_t slash = lower.find('/');
  if (lower.empty()) return BadRequest("Content-Type is required");
  if (slash == std::string::npos || !IsToken(std::string_view(lower).substr(0, slash)) ||
      !IsToken(std::string_view(lower).substr(slash + 1))) {
    return BadRequest("Content-Type must be type/subtype");
  }
  return lower;
}

bool TypeAllowed(std::string_view type, const std::vector<std::string>& allowed) {
  std::string_view major = type.substr(0, type.find('/'));
  return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& entry) {
    if (entry == type) return true;
    return entry.size() == major.size() + 2 && entry.ends_with("/*") && entry.starts_with(major);
  });
}

std::vector<std::string> DefaultAllowedTypes() {
  return {
      "image/png", "image/jpeg",      "image/gif",       "image/webp", "audio/*",
      "video/*",   "application/pdf", "application/zip", "text/plain", "application/octet-stream"};
}

std::string_view SniffImageType(std::string_view head) {
  if (head.starts_with("\x89PNG\r\n\x1a\n")) return "image/png";
  if (head.starts_with("\xff\xd8\xff")) return "image/jpeg";
  if (head.starts_with("GIF87a") || head.starts_with("GIF89a")) return "image/gif";
  if (head.size() >= 12 && head.starts_with("RIFF") && head.substr(8, 4) == "WEBP") {
    return "image/webp";
  }
  return "";
}

bool IsSupportedImage(std::string_view type) {
  return std::any_of(kImages.begin(), kImages.end(),
                     [&](const ImageKind& k) { return k.type == type; });
}

std::string NewMediaId() { return "m" + RandomToken(16); }

bool ValidMediaId(std::string_view id) {
  return !id.empty() && id.size() <= 64 && id.find_first_not_of(kIdChars) == std::string_view::npos;
}

std::string SafeFileName(std::string_view name) {
  size_t slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string out;
  for (char c : name) {
    bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    out.push_back(plain ? c : '_');
  }
  out.erase(0, out.find_first_not_of('.'));  // no hidden files, no ".."
  if (out.size() > kMaxFileName) out.erase(0, out.size() - kMaxFileName);  // keep the extension
  return out;
}

std::string_view ExtensionFor(std::string_view type) {
  for (const ImageKind& k : kImages) {
    if (k.type == type) return k.extension;
  }
  static constexpr std::pair<std::string_view, std::string_view> kOthers[] = {
      {"application/pdf", ".pdf"}, {"application/zip", ".zip"}, {"text/plain", ".txt"},
      {"audio/mpeg", ".mp3"},      {"audio/ogg", ".ogg"},       {"video/mp4", ".mp4"},
      {"video/webm", ".webm"}};
  for (const auto& [t, ext] : kOthers) {
    if (t == type) return ext;
  }
  return ".bin";
}

}  // namespace parley::media
