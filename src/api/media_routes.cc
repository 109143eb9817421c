// Media over HTTP: POST /v1/media streams the body into the media store on
// the media threads; GET /v1/media/{id}[/thumbnail] streams the file back
// (single ranges, ETag, safe Content-Disposition). Existence is never leaked:
// whatever the caller may not read is 404.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "api/api_service.h"
#include "api/byte_range.h"
#include "media/content_type.h"
#include "protocol/server_frames.h"

namespace parley::api {
namespace json = boost::json;
namespace {

std::string UploadBody(const store::MediaRecord& m) {
  json::object o{{"media_id", m.media_id},
                 {"size", m.size},
                 {"sha256", m.sha256},
                 {"content_type", m.content_type}};
  if (m.width != 0) {
    o["width"] = m.width;
    o["height"] = m.height;
  }
  return json::serialize(o);
}

// Images are shown in place; anything else is a download. The name is
// reduced to [A-Za-z0-9._-] at upload, so it needs no quoting.
std::string ContentDisposition(const store::MediaRecord& m, bool thumbnail) {
  bool image = media::IsSupportedImage(m.content_type);
  std::string name = m.file_name.empty()
                         ? m.media_id + std::string(media::ExtensionFor(m.content_type))
                         : m.file_name;
  if (thumbnail) name = m.media_id + "-thumbnail.jpg";
  return std::string(image || thumbnail ? "inline" : "attachment") + "; filename=\"" + name + "\"";
}

// An ETag's value matches an If-None-Match list ("*" or quoted tags).
bool NoneMatch(std::optional<std::string> header, const std::string& etag) {
  return header && (header->find(etag) != std::string::npos || *header == "*");
}

}  // namespace

void ApiService::PostMedia(HttpCall call) {
  if (!call.request.body_reader) {  // only streamed requests get here
    return call.respond(ErrorResponse(BadRequest("the upload has no body")));
  }
  // The address pays only for what its user may do: one user over its limit
  // does not use up the uploads of the others behind the same address.
  Status admitted = upload_limiter_.Admit(call.user_id, "too many uploads; try again later");
  if (admitted.ok()) {
    admitted = address_upload_limiter_.Admit(call.request.remote_address,
                                             "too many uploads from this address; try again later");
  }
  if (!admitted.ok()) return call.respond(ErrorResponse(admitted));
  auto upload = media_->BeginUpload(call.user_id, call.request.content_type,
                                    call.request.Query("filename").value_or(""));
  if (!upload.ok()) return call.respond(ErrorResponse(upload.status()));
  PumpUpload(std::shared_ptr<media::Upload>(std::move(*upload)), call.request.body_reader,
             call.respond);
}

// Reads one chunk on the io thread and writes it on a media thread, then the
// next: one chunk in memory at a time, and the io threads never touch disk.
// The upload has a single owner along the chain, so dropping it (on any
// error) removes its file before the answer goes out.
void ApiService::PumpUpload(std::shared_ptr<media::Upload> upload,
                            std::shared_ptr<gateway::BodyReader> reader,
                            gateway::HttpResponder respond) {
  gateway::BodyReader& source = *reader;
  source.Read([this, upload = std::move(upload), reader = std::move(reader),
               respond = std::move(respond)](Result<std::string> chunk) mutable {
    media_->Run([this, upload = std::move(upload), reader = std::move(reader),
                 respond = std::move(respond), chunk = std::move(chunk)]() mutable {
      Status status = chunk.ok() ? Status::Ok() : chunk.status();
      if (status.ok() && chunk->empty()) {
        Result<store::MediaRecord> record = media_->Commit(*upload);
        if (record.ok()) return respond(JsonResponse(201, UploadBody(*record)));
        status = record.status();
      } else if (status.ok()) {
        status = upload->Append(*chunk);
        if (status.ok())
          return PumpUpload(std::move(upload), std::move(reader), std::move(respond));
      }
      upload.reset();  // removes the partial file
      respond(ErrorResponse(status));
    });
  });
}

void ApiService::GetMediaFile(HttpCall call, bool thumbnail) {
  media_->Run([this, call = std::move(call), thumbnail] {
    auto opened = media_->OpenForRead(call.user_id, call.params.at("id"), thumbnail);
    if (!opened.ok()) return call.respond(ErrorResponse(opened.status()));
    const store::MediaRecord& record = opened->record;
    auto file = std::make_shared<gateway::FileBody>(opened->fd, 0, opened->size);
    std::string etag = "\"" + record.sha256 + (thumbnail ? "-thumbnail" : "") + "\"";
    gateway::HttpResponse r;
    r.content_type = thumbnail ? "image/jpeg" : record.content_type;
    r.headers = {{"ETag", etag},
                 {"Cache-Control", "private"},
                 {"Accept-Ranges", "bytes"},
                 {"Content-Disposition", ContentDisposition(record, thumbnail)},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Content-Security-Policy", "default-src 'none'; sandbox"}};
    if (NoneMatch(call.request.Header("if-none-match"), etag)) {
      r.status = 304;
      return call.respond(std::move(r));
    }
    RangeAnswer range = ParseByteRange(call.request.Header("range"), opened->size);
    if (range.kind == RangeKind::kUnsatisfiable) {
      gateway::HttpResponse refused = ErrorResponse(BadRequest("the range starts beyond the end"));
      refused.status = 416;
      refused.headers.emplace_back("Content-Range", "bytes */" + std::to_string(opened->size));
      return call.respond(std::move(refused));
    }
    if (range.kind == RangeKind::kPartial) {
      r.status = 206;
      r.headers.emplace_back("Content-Range", "bytes " + std::to_string(range.range.first) + "-" +
                                                  std::to_string(range.range.last) + "/" +
                                                  std::to_string(opened->size));
      file->offset = range.range.first;
      file->length = range.range.length();
    }
    r.file = std::move(file);
    call.respond(std::move(r));
  });
}

}  // namespace parley::api
