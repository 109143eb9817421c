#include "client/cli/output.h"

#include <boost/json/serialize.hpp>
#include <ctime>
#include <iostream>

namespace parley::client::cli {
namespace json = boost::json;

Result<Api> Context::MakeApi() const {
  auto api = Api::Make(server, config.token);
  if (!api.ok()) return BadRequest("bad --server URL: " + api.status().message());
  return api;
}

Result<Api> Context::AuthedApi() const {
  if (config.token.empty()) {
    return Unauthorized("not logged in (run: parley-cli login USER)");
  }
  return MakeApi();
}

int Fail(const std::string& what, const Status& status) {
  std::cerr << "parley-cli: " << what << ": " << status.message() << " (" << CodeName(status.code())
            << ")";
  if (status.retry_after_ms() > 0)
    std::cerr << ", retry after " << status.retry_after_ms() / 1000 << " s";
  std::cerr << "\n";
  switch (status.code()) {
    case Code::kUnauthorized:
      return kExitAuth;
    case Code::kUnavailable:
      return kExitUnreachable;
    default:
      return kExitFailed;
  }
}

int UsageError(const std::string& message) {
  std::cerr << "parley-cli: " << message << "\n";
  return kExitUsage;
}

void PrintJson(const json::value& value) { std::cout << json::serialize(value) << "\n"; }

std::string Str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : "";
}

int64_t Int(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return 0;
}

std::string FormatTime(int64_t ms) {
  std::time_t t = ms / 1000;
  std::tm local{};
  localtime_r(&t, &local);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M", &local);
  return buf;
}

namespace {

std::string DescribeEvent(const json::object& e) {
  std::string kind = Str(e, "kind"), actor = Str(e, "actor"), user = Str(e, "user_id");
  if (kind == "created")
    return actor + " created " +
           (Str(e, "name").empty() ? "the group" : "\"" + Str(e, "name") + "\"");
  if (kind == "member_added") return actor + " added " + user;
  if (kind == "member_removed") return actor + " removed " + user;
  if (kind == "member_left") return (user.empty() ? actor : user) + " left";
  if (kind == "renamed") return actor + " renamed the group to \"" + Str(e, "name") + "\"";
  if (kind == "role_changed") return actor + " changed the role of " + user;
  return actor + " " + kind;
}

}  // namespace

std::string FormatFrame(const json::object& frame) {
  std::string head =
      "[#" + std::to_string(Int(frame, "seq")) + " " + FormatTime(Int(frame, "ts")) + "] ";
  if (Str(frame, "op") == "event") return head + "* " + DescribeEvent(frame);
  std::string body = Str(frame, "content");
  std::string type = Str(frame, "type");
  if (!type.empty() && type != "text") body = "(" + type + ") " + body;
  if (!Str(frame, "media_id").empty()) body += " [media " + Str(frame, "media_id") + "]";
  return head + Str(frame, "sender") + ": " + body;
}

}  // namespace parley::client::cli
