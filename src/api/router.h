// Maps (method, path) to a handler. Patterns are paths whose `{name}` segments
// capture one path segment. Unknown paths are 404; a known path with another
// method is 405 (SPEC section 3).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>


namespace parley::api {

using PathParams = std::map<std::string, std::string, std::less<>>;

template <typename Handler>
class Router {
 public:
  void Add(std::string method, std::string_view pattern, Handler handler) {
    routes_.push_back({std::move(method), Split(pattern), std::move(handler)});
  }

  struct Match {
    const Handler* handler = nullptr;  // null: no route
    PathParams params;
    bool method_not_allowed = false;   // the path is known, the method is not
  };

  Match Find(std::string_view method, std::string_view path) const {
    std::vector<std::string> segments = Split(path);
    Match out;
    for (const Route& r : routes_) {
      PathParams params;
      if (!Matches(r.segments, segments, params)) continue;
      if (r.method == method) return Match{&r.handler, std::move(params), false};
      out.method_not_allowed = true;
    }
    return out;
  }

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
  };

  static std::vector<std::string> Split(std::string_view path) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < path.size()) {
      size_t slash = path.find('/', start);
      if (slash == std::string_view::npos) slash = path.size();
      if (slash > start) out.emplace_back(path.substr(start, slash - start));
      start = slash + 1;
    }
    return out;
  }

  static bool Matches(const std::vector<std::string>& pattern,
                      const std::vector<std::string>& segments, PathParams& params) {
    if (pattern.size() != segments.size()) return false;
    for (size_t i = 0; i < pattern.size(); ++i) {
      const std::string& p = pattern[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
        params[p.substr(1, p.size() - 2)] = segments[i];
      } else if (p != segments[i]) {
        return false;
      }
    }
    return true;
  }

  std::vector<Route> routes_;
};

}  // namespace parley::api
