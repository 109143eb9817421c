// Blocking HTTP helpers for the routes of SPEC section 3. Each call opens a
// fresh connection, so an Api may be used from any thread (one call at a time
// per object). Errors come back as Status with the server's code and message
// (and Retry-After for rate_limited/unavailable); a server that cannot be
// reached is kUnavailable with "cannot reach …".
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "client/url.h"
#include "common/status.h"

namespace parley::client {
namespace internal {
struct HttpReply;
}

struct LoginResult {
  std::string token;
  std::string user_id;
  int64_t expires_at = 0;
};

struct HistoryQuery {
  uint64_t before_seq = 0;  // 0: no bound
  uint64_t after_seq = 0;   // 0: no bound
  int limit = 0;            // 0: the server's default
};

class Api {
 public:
  explicit Api(ServerUrl server, std::string token = "");
  // Parses `server` (see ServerUrl::Parse).
  static Result<Api> Make(const std::string& server, std::string token = "");

  void set_token(std::string token) { token_ = std::move(token); }
  const std::string& token() const { return token_; }
  const ServerUrl& server() const { return server_; }
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }

  Result<std::string> Register(const std::string& user_id, const std::string& password,
                               const std::string& display_name = "");
  Result<LoginResult> Login(const std::string& user_id, const std::string& password,
                            const std::string& device = "");
  Status Logout();
  // {"conversations":[…]}
  Result<boost::json::value> Conversations();
  // {"messages":[…]} in ascending seq.
  Result<boost::json::value> History(const std::string& conversation_id, HistoryQuery query = {});
  // HTTP send; `to_user` or `conversation_id` (exactly one non-empty). The ack.
  Result<boost::json::value> SendMessage(const std::string& to_user,
                                         const std::string& conversation_id,
                                         const std::string& content, const std::string& type,
                                         const std::string& client_msg_id);
  // The same for a message of `type` image/file/audio/video carrying `media_id`
  // (an upload's id; `content` is an optional caption).
  Result<boost::json::value> SendMedia(const std::string& to_user,
                                       const std::string& conversation_id,
                                       const std::string& content, const std::string& type,
                                       const std::string& client_msg_id,
                                       const std::string& media_id);
  // kind: "group" or "channel". The new conversation_id.
  Result<std::string> CreateGroup(const std::string& name, const std::vector<std::string>& members,
                                  const std::string& kind = "group");
  Result<boost::json::value> GetGroup(const std::string& conversation_id);
  Result<boost::json::value> AddMember(const std::string& conversation_id, const std::string& user);
  Result<boost::json::value> RemoveMember(const std::string& conversation_id,
                                          const std::string& user);
  // POST /v1/media with the raw bytes:
  // {"media_id","size","sha256","content_type","width"?,"height"?} (width and
  // height for images that decode).
  Result<boost::json::value> Upload(std::string bytes, const std::string& content_type);
  // The same, streaming the file at `path` (its name goes along as ?filename=).
  Result<boost::json::value> UploadFile(const std::string& path, const std::string& content_type);

  // Any route: `body` is sent as is (JSON unless content_type says otherwise).
  // 2xx → the parsed JSON body (null when empty); otherwise the error Status.
  Result<boost::json::value> Call(const std::string& method, const std::string& target,
                                  std::string body = "",
                                  const std::string& content_type = "application/json");

 private:
  // 2xx → the parsed JSON body (null when empty); otherwise the error Status.
  static Result<boost::json::value> ParseReply(const Result<internal::HttpReply>& reply);

  ServerUrl server_;
  std::string token_;
  std::chrono::milliseconds timeout_{std::chrono::seconds(30)};
};

// Percent-encodes a path segment or query value.
std::string UrlEncode(const std::string& text);
// The Code for a wire error code ("bad_request", …); kInternal when unknown.
Code CodeFromName(const std::string& name);

}  // namespace parley::client
