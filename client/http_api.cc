#include "client/http_api.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>

#include "client/transport.h"

namespace parley::client {
namespace json = boost::json;

namespace {

// The Status of a non-2xx reply, from its {"error":{"code","message"}} body.
Status ErrorOf(const internal::HttpReply& reply) {
  boost::system::error_code ec;
  json::value doc = json::parse(reply.body, ec);
  Code code = Code::kInternal;
  std::string message = "HTTP " + std::to_string(reply.status);
  if (!ec && doc.is_object()) {
    if (auto* err = doc.get_object().if_contains("error"); err && err->is_object()) {
      const json::object& e = err->get_object();
      if (auto* c = e.if_contains("code"); c && c->is_string())
        code = CodeFromName(std::string(c->get_string()));
      if (auto* m = e.if_contains("message"); m && m->is_string()) message = m->get_string();
    }
  } else if (reply.status == 404) {
    code = Code::kNotFound;
  } else if (reply.status == 503) {
    code = Code::kUnavailable;
  }
  Status status(code, message);
  if (reply.retry_after_ms > 0) return std::move(status).WithRetryAfter(reply.retry_after_ms);
  return status;
}

std::string GetString(const json::value& v, const char* key) {
  if (!v.is_object()) return "";
  auto* f = v.get_object().if_contains(key);
  return f && f->is_string() ? std::string(f->get_string()) : "";
}

}  // namespace

Code CodeFromName(const std::string& name) {
  static const std::pair<const char*, Code> kCodes[] = {
      {"bad_request", Code::kBadRequest},   {"unauthorized", Code::kUnauthorized},
      {"forbidden", Code::kForbidden},      {"not_found", Code::kNotFound},
      {"conflict", Code::kConflict},        {"too_large", Code::kTooLarge},
      {"rate_limited", Code::kRateLimited}, {"unavailable", Code::kUnavailable},
      {"internal", Code::kInternal}};
  for (const auto& [n, c] : kCodes) {
    if (name == n) return c;
  }
  return Code::kInternal;
}

std::string UrlEncode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Api::Api(ServerUrl server, std::string token)
    : server_(std::move(server)), token_(std::move(token)) {}

Result<Api> Api::Make(const std::string& server, std::string token) {
  auto url = ServerUrl::Parse(server);
  if (!url.ok()) return url.status();
  return Api(*url, std::move(token));
}

Result<json::value> Api::Call(const std::string& method, const std::string& target,
                              std::string body, const std::string& content_type) {
  return ParseReply(internal::HttpExchange(server_, method, target, token_, std::move(body),
                                           content_type, timeout_));
}

Result<json::value> Api::ParseReply(const Result<internal::HttpReply>& reply) {
  if (!reply.ok()) return reply.status();
  if (reply->status < 200 || reply->status >= 300) return ErrorOf(*reply);
  if (reply->body.empty()) return json::value(nullptr);
  boost::system::error_code ec;
  json::value doc = json::parse(reply->body, ec);
  if (ec)
    return Internal("the server sent a body that is not JSON (HTTP " +
                    std::to_string(reply->status) + ")");
  return doc;
}

Result<std::string> Api::Register(const std::string& user_id, const std::string& password,
                                  const std::string& display_name) {
  json::object body{{"user_id", user_id}, {"password", password}};
  if (!display_name.empty()) body["display_name"] = display_name;
  auto r = Call("POST", "/v1/users", json::serialize(body));
  if (!r.ok()) return r.status();
  return GetString(*r, "user_id");
}

Result<LoginResult> Api::Login(const std::string& user_id, const std::string& password,
                               const std::string& device) {
  json::object body{{"user_id", user_id}, {"password", password}};
  if (!device.empty()) body["device"] = device;
  auto r = Call("POST", "/v1/sessions", json::serialize(body));
  if (!r.ok()) return r.status();
  LoginResult login{GetString(*r, "token"), GetString(*r, "user_id"), 0};
  if (auto* e = r->get_object().if_contains("expires_at"); e && e->is_number()) {
    login.expires_at = e->to_number<int64_t>();
  }
  if (login.token.empty()) return Internal("the login answer has no token");
  return login;
}

Status Api::Logout() {
  auto r = Call("DELETE", "/v1/sessions");
  return r.ok() ? Status::Ok() : r.status();
}

Result<json::value> Api::Conversations() { return Call("GET", "/v1/conversations"); }

Result<json::value> Api::History(const std::string& conversation_id, HistoryQuery query) {
  std::string target = "/v1/conversations/" + UrlEncode(conversation_id) + "/messages";
  std::string sep = "?";
  auto add = [&](const char* key, uint64_t v) {
    if (v == 0) return;
    target += sep + key + "=" + std::to_string(v);
    sep = "&";
  };
  add("before_seq", query.before_seq);
  add("after_seq", query.after_seq);
  add("limit", query.limit > 0 ? static_cast<uint64_t>(query.limit) : 0);
  return Call("GET", target);
}

Result<json::value> Api::SendMessage(const std::string& to_user, const std::string& conversation_id,
                                     const std::string& content, const std::string& type,
                                     const std::string& client_msg_id) {
  return SendMedia(to_user, conversation_id, content, type, client_msg_id, "");
}

Result<json::value> Api::SendMedia(const std::string& to_user, const std::string& conversation_id,
                                   const std::string& content, const std::string& type,
                                   const std::string& client_msg_id, const std::string& media_id) {
  json::object body{{"content", content}, {"type", type}, {"client_msg_id", client_msg_id}};
  if (!to_user.empty()) body["to"] = to_user;
  if (!conversation_id.empty()) body["conversation_id"] = conversation_id;
  if (!media_id.empty()) body["media_id"] = media_id;
  return Call("POST", "/v1/messages", json::serialize(body));
}

Result<std::string> Api::CreateGroup(const std::string& name,
                                     const std::vector<std::string>& members,
                                     const std::string& kind) {
  json::array list;
  for (const auto& m : members) list.emplace_back(m);
  json::object body{{"name", name}, {"members", std::move(list)}, {"kind", kind}};
  auto r = Call("POST", "/v1/groups", json::serialize(body));
  if (!r.ok()) return r.status();
  return GetString(*r, "conversation_id");
}

Result<json::value> Api::GetGroup(const std::string& conversation_id) {
  return Call("GET", "/v1/groups/" + UrlEncode(conversation_id));
}

Result<json::value> Api::AddMember(const std::string& conversation_id, const std::string& user) {
  return Call("POST", "/v1/groups/" + UrlEncode(conversation_id) + "/members",
              json::serialize(json::object{{"user_id", user}}));
}

Result<json::value> Api::RemoveMember(const std::string& conversation_id, const std::string& user) {
  return Call("DELETE", "/v1/groups/" + UrlEncode(conversation_id) + "/members/" + UrlEncode(user));
}

Result<json::value> Api::Upload(std::string bytes, const std::string& content_type) {
  return Call("POST", "/v1/media", std::move(bytes),
              content_type.empty() ? "application/octet-stream" : content_type);
}

Result<json::value> Api::UploadFile(const std::string& path, const std::string& content_type) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  return ParseReply(internal::HttpPostFile(
      server_, "/v1/media?filename=" + UrlEncode(name), token_, path,
      content_type.empty() ? "application/octet-stream" : content_type, timeout_));
}

}  // namespace parley::client
