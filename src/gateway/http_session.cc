#include <spdlog/spdlog.h>

#include <boost/beast/core/detect_ssl.hpp>
#include <boost/url/parse.hpp>
#include <cctype>

#include "gateway/internal.h"
#include "protocol/server_frames.h"

namespace parley::gateway {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;
// A client whose body we refused keeps sending for a moment: read and drop
// that much of it so it gets to read our answer instead of a reset.
constexpr size_t kMaxDrainBytes = 8 * 1024 * 1024;
constexpr auto kDrainTime = std::chrono::seconds(2);
// What an allowed cross-origin page may do and read (answers to preflights).
constexpr std::string_view kCorsMethods = "GET, POST, PUT, PATCH, DELETE";
constexpr std::string_view kCorsRequestHeaders = "Authorization, Content-Type, Range";
constexpr std::string_view kCorsExposedHeaders = "Retry-After, Content-Range, Accept-Ranges, ETag";
constexpr std::string_view kCorsMaxAgeSeconds = "600";

std::string BearerToken(const http::request_header<>& req) {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return "";
  std::string_view v = it->value();
  constexpr std::string_view kPrefix = "Bearer ";
  if (v.size() <= kPrefix.size() || !beast::iequals(v.substr(0, kPrefix.size()), kPrefix))
    return "";
  return std::string(v.substr(kPrefix.size()));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Fills everything but the body; BadRequest on an unparsable target.
Status ToHttpRequest(const http::request_header<>& req, HttpRequest& out) {
  auto url = boost::urls::parse_origin_form(req.target());
  if (!url) return BadRequest("malformed request target");
  out.method = std::string(req.method_string());
  out.path = url->path();
  for (auto param : url->params()) out.query.emplace_back(param.key, param.value);
  out.bearer_token = BearerToken(req);
  out.content_type = std::string(req[http::field::content_type]);
  for (const auto& field : req) out.headers.emplace_back(Lower(field.name_string()), field.value());
  return Status::Ok();
}

// Body framing that a proxy in front could read differently from us (request
// smuggling): one Content-Length with one value, or Transfer-Encoding:
// chunked alone. Beast refuses both together and differing lengths itself.
Status CheckFraming(const http::request_header<>& req) {
  int lengths = 0, encodings = 0;
  for (const auto& field : req) {
    if (field.name() == http::field::content_length) {
      if (++lengths > 1 || field.value().find(',') != std::string_view::npos)
        return BadRequest("more than one Content-Length");
    } else if (field.name() == http::field::transfer_encoding) {
      if (++encodings > 1 || !beast::iequals(field.value(), "chunked"))
        return BadRequest("Transfer-Encoding other than a single 'chunked'");
    }
  }
  return Status::Ok();
}

bool ClientWentAway(beast::error_code ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message ||
         ec == beast::error::timeout || ec == net::error::connection_reset ||
         ec == net::error::operation_aborted || ec == net::error::eof;
}

// A response with the status and headers of `r` (its body is the caller's);
// CORS headers when it answers an allowed cross-origin request.
template <class Body>
std::shared_ptr<http::response<Body>> MakeResponse(const HttpResponse& r, bool keep_alive,
                                                   const std::string& cors_origin) {
  auto res = std::make_shared<http::response<Body>>(static_cast<http::status>(r.status), 11);
  res->set(http::field::server, "parley");
  if (!r.content_type.empty()) res->set(http::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) res->set(k, v);
  if (!cors_origin.empty()) {
    res->set(http::field::access_control_allow_origin, cors_origin);
    res->set(http::field::access_control_expose_headers, kCorsExposedHeaders);
    res->set(http::field::vary, "Origin");
  }
  res->keep_alive(keep_alive);
  return res;
}

std::chrono::seconds Seconds(int s) { return std::chrono::seconds(s); }

// The BodyReader of a streamed request: valid for that request only.
class StreamReader final : public BodyReader {
 public:
  StreamReader(std::shared_ptr<HttpSession> session, uint64_t request)
      : session_(std::move(session)), request_(request) {}
  void Read(std::function<void(Result<std::string>)> done) override {
    session_->ReadBody(request_, std::move(done));
  }

 private:
  std::shared_ptr<HttpSession> session_;
  const uint64_t request_;
};

}  // namespace

HttpSession::HttpSession(tcp::socket socket, Admission::Slot connection, Gateway::Impl& gw)
    : stream_(std::move(socket)), connection_(std::move(connection)), gw_(gw) {
  gw_.http_connections.Add(1);
}

HttpSession::~HttpSession() { gw_.http_connections.Add(-1); }

void HttpSession::Start() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Begin(); });
}

// Admission first: a refused plain connection still gets its answer (429 or
// 503 with Retry-After) to its first request; a refused TLS one is closed at
// once, since its handshake is the cost being refused.
void HttpSession::Begin() {
  beast::error_code ec;
  address_ = stream_.next_layer().socket().remote_endpoint(ec).address().to_string();
  auto handshake = gw_.admission.BeginHandshake(address_);
  if (handshake.ok()) {
    handshake_ = std::move(*handshake);
  } else {
    refusal_ = handshake.status();
    gw_.CountRefusal(refusal_);
    if (gw_.tls) return Shutdown();
  }
  if (gw_.tls) return DetectTls();
  DoRead();
}

void HttpSession::DetectTls() {
  stream_.next_layer().expires_after(Seconds(gw_.options.http_header_timeout_s));
  beast::async_detect_ssl(
      stream_.next_layer(), buffer_,
      [self = shared_from_this()](beast::error_code ec, bool is_tls) {
        if (ec) {
          self->gw_.tls_handshake_failures.Inc();
          return self->Shutdown();
        }
        if (!is_tls) {  // plain HTTP on the TLS port: say so in plain HTTP, then close
          self->body_left_ = true;
          return self->RespondError(BadRequest("this port speaks TLS: use https:// or wss://"));
        }
        self->stream_.StartTls(*self->gw_.tls);
        // The bytes the detection read are the start of the handshake. (The
        // default argument satisfies Beast 1.81's constraint on this overload,
        // which names the wrong signature.)
        self->stream_.tls().async_handshake(
            net::ssl::stream_base::server, self->buffer_.data(),
            [self](beast::error_code ec, size_t used = 0) { self->OnTlsHandshake(ec, used); });
      });
}

void HttpSession::OnTlsHandshake(beast::error_code ec, size_t used) {
  if (ec) {
    gw_.tls_handshake_failures.Inc();
    spdlog::debug("event=tls_handshake_failed address={} error=\"{}\"", address_, ec.message());
    return Shutdown();
  }
  buffer_.consume(used);
  DoRead();
}

void HttpSession::DoRead() {
  ++request_;
  keep_alive_ = false;
  parser_.reset();
  stream_parser_.reset();
  chunk_ = {};
  responded_ = body_left_ = expect_continue_ = reading_body_ = false;
  cors_origin_.clear();
  header_parser_.emplace();
  header_parser_->header_limit(static_cast<uint32_t>(gw_.options.max_header_bytes));
  header_parser_->body_limit(boost::none);  // the body's parser sets the limit of its route
  stream_.next_layer().expires_after(Seconds(gw_.options.http_header_timeout_s));
  http::async_read_header(
      stream_, buffer_, *header_parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

void HttpSession::OnHeader(beast::error_code ec) {
  if (ec == beast::error::timeout) gw_.http_timeouts.Inc();
  if (ClientWentAway(ec)) return Shutdown();
  if (ec) {
    body_left_ = true;  // whatever else the client sends is not read as a request
    if (ec == http::error::header_limit) return RespondError(TooLarge("request headers are too large"));
    return RespondError(BadRequest("malformed HTTP request: " + ec.message()));
  }
  if (!refusal_.ok()) return Refuse(refusal_);

  const auto& head = header_parser_->get();
  keep_alive_ = head.keep_alive();
  if (Status s = CheckFraming(head); !s.ok()) {
    keep_alive_ = false;
    body_left_ = true;  // no trusted length: drain what follows, read none of it as a request
    return RespondError(s);
  }
  if (Status s = CheckOrigin(head); !s.ok()) return Refuse(s);
  if (websocket::is_upgrade(head)) {
    return Upgrade(http::request<http::string_body>(std::move(header_parser_->release().base())));
  }
  handshake_.reset();  // a first request arrived: the connection is open
  if (head.method() == http::verb::options && !cors_origin_.empty() &&
      head.find(http::field::access_control_request_method) != head.end()) {
    return RespondPreflight();
  }
  HttpRequest request;
  if (Status s = ToHttpRequest(head, request); !s.ok()) {
    keep_alive_ = false;
    return RespondError(s);
  }
  if (auto length = header_parser_->content_length()) request.content_length = *length;
  std::optional<uint64_t> streamed = gw_.service.StreamedBodyLimit(request);
  uint64_t limit = streamed.value_or(gw_.options.max_http_body_bytes);
  // Checked here: the body's parser only enforces its limit on chunked bodies.
  if (request.content_length && *request.content_length > limit) {
    return Refuse(TooLarge("the body is larger than " + std::to_string(limit) + " bytes"));
  }
  if (streamed) return StartStream(std::move(request), limit);
  parser_.emplace(std::move(*header_parser_));
  parser_->body_limit(limit);
  stream_.next_layer().expires_after(Seconds(gw_.options.http_body_timeout_s));
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this(), request = std::move(request)](
          beast::error_code ec, size_t) mutable { self->OnBody(ec, std::move(request)); });
}

// The request comes from a page of another origin than this server's: only
// allowed origins pass, and their answers carry CORS headers.
Status HttpSession::CheckOrigin(const http::request_header<>& head) {
  std::string_view origin = head[http::field::origin];
  switch (gw_.origins->Check(origin, head[http::field::host])) {
    case OriginPolicy::Verdict::kRefused:
      gw_.refused_origin.Inc();
      return Forbidden("requests from origin '" + std::string(origin.substr(0, 200)) +
                       "' are not allowed here (--allowed-origins)");
    case OriginPolicy::Verdict::kAllowed:
      cors_origin_ = origin;
      break;
    default:
      break;
  }
  return Status::Ok();
}

// A CORS preflight of an allowed origin: what its real request may use.
void HttpSession::RespondPreflight() {
  HttpResponse r{204, "", "", {}};
  r.headers.emplace_back("Access-Control-Allow-Methods", std::string(kCorsMethods));
  r.headers.emplace_back("Access-Control-Allow-Headers", std::string(kCorsRequestHeaders));
  r.headers.emplace_back("Access-Control-Max-Age", std::string(kCorsMaxAgeSeconds));
  Respond(std::move(r));
}

// Answers without reading the body, then closes (after draining what the
// client still sends, so that it reads the answer instead of a reset).
void HttpSession::Refuse(const Status& status) {
  keep_alive_ = false;
  body_left_ = !header_parser_->is_done();
  RespondError(status);
}

void HttpSession::OnBody(beast::error_code ec, HttpRequest request) {
  if (ec == beast::error::timeout) gw_.http_timeouts.Inc();
  if (ClientWentAway(ec)) return Shutdown();
  keep_alive_ = keep_alive_ && !ec;
  body_left_ = static_cast<bool>(ec);  // the rest is drained, not read as a request
  if (ec == http::error::body_limit) {
    return RespondError(TooLarge("the body is larger than " +
                                 std::to_string(gw_.options.max_http_body_bytes) + " bytes"));
  }
  if (ec) return RespondError(BadRequest("malformed HTTP request: " + ec.message()));
  request.body = std::move(parser_->get().body());
  Dispatch(std::move(request));
}

void HttpSession::StartStream(HttpRequest request, uint64_t limit) {
  auto expect = header_parser_->get()[http::field::expect];
  expect_continue_ = beast::iequals(expect, "100-continue");
  stream_parser_.emplace(std::move(*header_parser_));
  stream_parser_->body_limit(limit);
  request.body_reader = std::make_shared<StreamReader>(shared_from_this(), request_);
  Dispatch(std::move(request));
}

void HttpSession::ReadBody(uint64_t request, std::function<void(Result<std::string>)> done) {
  net::post(stream_.get_executor(),
            [self = shared_from_this(), request, done = std::move(done)]() mutable {
              if (request != self->request_) return done(Unavailable("the request is over"));
              self->ReadChunk(std::move(done));
            });
}

void HttpSession::ReadChunk(std::function<void(Result<std::string>)> done) {
  if (!stream_parser_ || responded_ || reading_body_) {
    return done(Unavailable("the request is over"));
  }
  if (stream_parser_->is_done()) return done(std::string());
  if (expect_continue_) return ContinueThenRead(std::move(done));
  reading_body_ = true;
  chunk_.resize(kChunkBytes);
  auto& body = stream_parser_->get().body();
  body.data = chunk_.data();
  body.size = chunk_.size();
  stream_.next_layer().expires_after(Seconds(gw_.options.http_body_timeout_s));
  http::async_read(stream_, buffer_, *stream_parser_,
                   [self = shared_from_this(), done = std::move(done)](
                       beast::error_code ec, size_t) { self->OnChunk(ec, done); });
}

// The client asked to be told before it sends the body: tell it once the
// service wants the body (a refusal before that costs no upload).
void HttpSession::ContinueThenRead(std::function<void(Result<std::string>)> done) {
  expect_continue_ = false;
  auto res = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
  http::async_write(stream_, *res,
                    [self = shared_from_this(), res, done = std::move(done)](beast::error_code ec,
                                                                             size_t) mutable {
                      if (ec) return done(Unavailable("client went away"));
                      self->ReadChunk(std::move(done));
                    });
}

void HttpSession::OnChunk(beast::error_code ec,
                          const std::function<void(Result<std::string>)>& done) {
  reading_body_ = false;
  stream_.next_layer().expires_never();         // the service may take its time with the chunk
  if (ec == beast::error::timeout) gw_.http_timeouts.Inc();
  if (ec == http::error::need_buffer) ec = {};  // the chunk buffer is full
  size_t got = chunk_.size() - stream_parser_->get().body().size;
  if (ec == http::error::body_limit) {
    keep_alive_ = false;
    return done(TooLarge("the body is larger than the limit of this route"));
  }
  if (ec) {
    keep_alive_ = false;
    if (ClientWentAway(ec)) return done(Unavailable("the client went away during the body"));
    return done(BadRequest("malformed request body: " + ec.message()));
  }
  if (got == 0 && !stream_parser_->is_done()) return ReadChunk(done);
  done(std::string(chunk_.data(), got));
}

void HttpSession::Dispatch(HttpRequest request) {
  request.remote_address = address_;
  stream_.next_layer().expires_never();  // the service may take a while (long-poll)
  gw_.service.HandleHttp(std::move(request), [self = shared_from_this()](HttpResponse r) {
    net::post(self->stream_.get_executor(),
              [self, r = std::move(r)]() mutable { self->Respond(std::move(r)); });
  });
}

void HttpSession::Upgrade(http::request<http::string_body> req) {
  HttpRequest request;
  keep_alive_ = false;
  if (Status s = ToHttpRequest(req, request); !s.ok()) return RespondError(s);
  if (request.path != "/v1/ws") return RespondError(NotFound("no WebSocket endpoint here"));
  if (!handshake_.held()) {  // a keep-alive connection upgrading later opens anew
    auto handshake = gw_.admission.BeginHandshake(address_);
    if (!handshake.ok()) {
      gw_.CountRefusal(handshake.status());
      return RespondError(handshake.status());
    }
    handshake_ = std::move(*handshake);
  }
  std::string token = request.bearer_token;
  if (token.empty()) token = request.Query("token").value_or("");
  if (token.empty()) return StartWebSocket(Identity{}, std::move(req));  // auth by the first frame
  auto shared_req = std::make_shared<http::request<http::string_body>>(std::move(req));
  gw_.service.Authenticate(
      token, [self = shared_from_this(), shared_req](Result<Identity> user) {
        net::post(self->stream_.get_executor(), [self, shared_req, user = std::move(user)]() {
          if (!user.ok()) return self->RespondError(user.status());
          self->StartWebSocket(*user, std::move(*shared_req));
        });
      });
}

// The connection becomes a WebSocket session, its admission slots with it.
void HttpSession::StartWebSocket(Identity identity, http::request<http::string_body> req) {
  std::make_shared<WsSession>(std::move(stream_), gw_, std::move(identity), std::move(connection_),
                              std::move(handshake_))
      ->Accept(std::move(req));
}

void HttpSession::RespondError(const Status& status) {
  HttpResponse r{HttpStatus(status.code()), "application/json", protocol::ErrorBody(status), {}};
  if (auto seconds = RetryAfterSeconds(status)) {
    r.headers.emplace_back("Retry-After", std::to_string(*seconds));
  }
  Respond(std::move(r));
}

void HttpSession::Respond(HttpResponse r) {
  responded_ = true;
  if (stream_parser_ && !stream_parser_->is_done()) body_left_ = true;
  if (body_left_) keep_alive_ = false;  // the rest of the body is not a next request
  if (r.file) return RespondFile(std::move(r));
  auto res = MakeResponse<http::string_body>(r, keep_alive_, cors_origin_);
  res->body() = std::move(r.body);
  res->prepare_payload();
  stream_.next_layer().expires_after(Seconds(gw_.options.http_body_timeout_s));
  http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
    self->AfterResponse(ec);
  });
}

// Headers first, then the file range in chunks: memory stays at one chunk
// whatever the size of the file.
void HttpSession::RespondFile(HttpResponse r) {
  auto res = MakeResponse<http::empty_body>(r, keep_alive_, cors_origin_);
  res->content_length(r.file->length);
  auto serializer = std::make_shared<http::response_serializer<http::empty_body>>(*res);
  stream_.next_layer().expires_after(Seconds(gw_.options.http_body_timeout_s));
  http::async_write_header(stream_, *serializer,
                           [self = shared_from_this(), res, serializer, file = std::move(r.file)](
                               beast::error_code ec, size_t) mutable {
                             if (ec) return self->AfterResponse(ec);
                             self->WriteFileChunk(std::move(file), 0);
                           });
}

void HttpSession::WriteFileChunk(std::shared_ptr<FileBody> file, uint64_t sent) {
  if (sent == file->length) return AfterResponse({});
  chunk_.resize(kChunkBytes);
  size_t want = static_cast<size_t>(std::min<uint64_t>(chunk_.size(), file->length - sent));
  ssize_t n = ::pread(file->fd, chunk_.data(), want, static_cast<off_t>(file->offset + sent));
  if (n <= 0) {  // the file shrank under us: the promised length cannot be kept
    spdlog::error("event=file_body_read_failed sent={} length={}", sent, file->length);
    return Shutdown();
  }
  stream_.next_layer().expires_after(Seconds(gw_.options.http_body_timeout_s));
  net::async_write(stream_, net::buffer(chunk_.data(), static_cast<size_t>(n)),
                   [self = shared_from_this(), file = std::move(file), sent](
                       beast::error_code ec, size_t written) mutable {
                     if (ec) return self->AfterResponse(ec);
                     self->WriteFileChunk(std::move(file), sent + written);
                   });
}

void HttpSession::AfterResponse(beast::error_code ec) {
  if (ec) return Shutdown();
  if (keep_alive_) return DoRead();
  beast::error_code ignored;
  stream_.next_layer().socket().shutdown(tcp::socket::shutdown_send, ignored);
  if (body_left_ && !reading_body_) {
    stream_.next_layer().expires_after(kDrainTime);
    Drain();
  }
}

void HttpSession::Drain() {
  chunk_.resize(kChunkBytes);
  stream_.async_read_some(net::buffer(chunk_),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->drained_ += n;
                            if (ec || self->drained_ > kMaxDrainBytes) {
                              beast::error_code ignored;
                              self->stream_.next_layer().socket().close(ignored);
                              return;
                            }
                            self->Drain();
                          });
}

void HttpSession::Shutdown() {
  beast::error_code ignored;
  stream_.next_layer().socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace parley::gateway
