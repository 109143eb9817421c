// parley-cli: exit codes, error reporting and how frames are printed.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "client/cli/config.h"
#include "client/http_api.h"
#include "common/status.h"

namespace parley::client::cli {

enum ExitCode {
  kExitOk = 0,
  kExitFailed = 1,       // the server refused (bad input, forbidden, not found, …)
  kExitUsage = 2,        // bad command line
  kExitAuth = 3,         // not logged in, or the token was refused
  kExitUnreachable = 4,  // no answer from the server (or 503)
};

// What every command gets: resolved options and the config file.
struct Context {
  std::string config_path;
  CliConfig config;
  std::string server;  // --server, else the config's, else the default
  bool json = false;
  // An Api for `server` with the session token (fails on a bad URL).
  Result<Api> MakeApi() const;
  // MakeApi(), plus a check that a session exists.
  Result<Api> AuthedApi() const;
};

// Prints "parley-cli: WHAT: MESSAGE (code)" on stderr; the exit code for it.
int Fail(const std::string& what, const Status& status);
int UsageError(const std::string& message);
// One JSON document on stdout.
void PrintJson(const boost::json::value& value);

std::string FormatTime(int64_t ms);
// "[#3 14:02] alice: hi" for messages, "[#4 14:03] * alice added bob" for events.
std::string FormatFrame(const boost::json::object& frame);
std::string Str(const boost::json::object& o, const char* key);
int64_t Int(const boost::json::object& o, const char* key);

}  // namespace parley::client::cli
