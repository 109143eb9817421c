#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace parley::bench {
namespace json = boost::json;

namespace {

double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }
double Round3(double v) { return std::round(v * 1000.0) / 1000.0; }

const double kDistribution[] = {0,  10, 20, 30,   40,   50,    60,     70,    80, 90, 95,
                                97, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100};

std::string Fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};

struct Panel {
  double x, y, w, h;                // pixel box
  double x0, x1, y0, y1;            // data range (log10 when log)
  bool xlog = false, ylog = false;
  double X(double v) const {
    const double d = xlog ? std::log10(std::max(v, 1e-12)) : v;
    return x + (d - x0) / (x1 - x0) * w;
  }
  double Y(double v) const {
    const double d = ylog ? std::log10(std::max(v, 1e-12)) : v;
    return y + h - (d - y0) / (y1 - y0) * h;
  }
};

std::string NiceNumber(double v) {
  if (v >= 1e6) return Fmt("%.3gM", v / 1e6);
  if (v >= 1e3) return Fmt("%.3gk", v / 1e3);
  return Fmt("%.3g", v);
}

double NiceCeil(double v) {
  if (v <= 0) return 1;
  const double p = std::pow(10, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

void Frame(std::ostringstream& s, const Panel& p, const std::string& xlabel, const std::string& ylabel) {
  s << "<rect x='" << p.x << "' y='" << p.y << "' width='" << p.w << "' height='" << p.h
    << "' fill='white' stroke='#444'/>\n";
  s << "<text x='" << p.x + p.w / 2 << "' y='" << p.y + p.h + 36 << "' text-anchor='middle'>" << xlabel
    << "</text>\n";
  s << "<text transform='translate(" << p.x - 52 << "," << p.y + p.h / 2
    << ") rotate(-90)' text-anchor='middle'>" << ylabel << "</text>\n";
}

void LogYTicks(std::ostringstream& s, const Panel& p) {
  for (int e = static_cast<int>(std::ceil(p.y0)); e <= static_cast<int>(std::floor(p.y1)); ++e) {
    const double v = std::pow(10, e);
    const double yy = p.Y(v);
    s << "<line x1='" << p.x << "' x2='" << p.x + p.w << "' y1='" << yy << "' y2='" << yy
      << "' stroke='#ddd'/>\n";
    s << "<text x='" << p.x - 6 << "' y='" << yy + 4 << "' text-anchor='end'>" << Fmt("%g", v) << "</text>\n";
  }
}

void LinearTicks(std::ostringstream& s, const Panel& p, bool x_axis, int n) {
  for (int i = 0; i <= n; ++i) {
    if (x_axis) {
      const double v = p.x0 + (p.x1 - p.x0) * i / n;
      const double xx = p.X(v);
      s << "<line x1='" << xx << "' x2='" << xx << "' y1='" << p.y << "' y2='" << p.y + p.h
        << "' stroke='#eee'/>\n";
      s << "<text x='" << xx << "' y='" << p.y + p.h + 16 << "' text-anchor='middle'>" << NiceNumber(v)
        << "</text>\n";
    } else {
      const double v = p.y0 + (p.y1 - p.y0) * i / n;
      const double yy = p.Y(v);
      s << "<line x1='" << p.x << "' x2='" << p.x + p.w << "' y1='" << yy << "' y2='" << yy
        << "' stroke='#eee'/>\n";
      s << "<text x='" << p.x - 6 << "' y='" << yy + 4 << "' text-anchor='end'>" << NiceNumber(v)
        << "</text>\n";
    }
  }
}

void Polyline(std::ostringstream& s, const Panel& p, const std::vector<std::pair<double, double>>& pts,
              const char* color, bool dashed = false) {
  if (pts.empty()) return;
  s << "<polyline fill='none' stroke='" << color << "' stroke-width='2'"
    << (dashed ? " stroke-dasharray='6,4'" : "") << " points='";
  for (auto [x, y] : pts) s << Fmt("%.1f", p.X(x)) << "," << Fmt("%.1f", p.Y(y)) << " ";
  s << "'/>\n";
  for (auto [x, y] : pts) {
    s << "<circle cx='" << Fmt("%.1f", p.X(x)) << "' cy='" << Fmt("%.1f", p.Y(y)) << "' r='3' fill='" << color
      << "'/>\n";
  }
}

void Legend(std::ostringstream& s, double x, double y, const std::vector<std::pair<std::string, const char*>>& items) {
  for (size_t i = 0; i < items.size(); ++i) {
    const double yy = y + 18.0 * static_cast<double>(i);
    s << "<line x1='" << x << "' x2='" << x + 24 << "' y1='" << yy << "' y2='" << yy << "' stroke='"
      << items[i].second << "' stroke-width='3'/>\n";
    s << "<text x='" << x + 30 << "' y='" << yy + 4 << "'>" << items[i].first << "</text>\n";
  }
}

std::string Header(int w, int h, const std::string& title) {
  std::ostringstream s;
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << w << "' height='" << h
    << "' font-family='sans-serif' font-size='12'>\n"
    << "<rect width='100%' height='100%' fill='#fafafa'/>\n"
    << "<text x='" << w / 2 << "' y='24' text-anchor='middle' font-size='16' font-weight='bold'>" << title
    << "</text>\n";
  return s.str();
}

}  // namespace

json::object LatencyJson(const Histogram& h, bool with_distribution) {
  json::object o;
  o["count"] = h.count();
  o["mean_ms"] = Round3(h.mean() / 1e6);
  o["p50_ms"] = Round3(Ms(h.Percentile(50)));
  o["p90_ms"] = Round3(Ms(h.Percentile(90)));
  o["p99_ms"] = Round3(Ms(h.Percentile(99)));
  o["p999_ms"] = Round3(Ms(h.Percentile(99.9)));
  o["max_ms"] = Round3(Ms(h.max()));
  if (with_distribution) {
    json::array d;
    for (double p : kDistribution) d.push_back(json::array{p, Round3(Ms(h.Percentile(p)))});
    o["distribution"] = std::move(d);
  }
  return o;
}

std::string LatencyLine(const Histogram& h) {
  if (h.count() == 0) return "(no samples)";
  return Fmt("p50 %.3f", Ms(h.Percentile(50))) + Fmt("  p90 %.3f", Ms(h.Percentile(90))) +
         Fmt("  p99 %.3f", Ms(h.Percentile(99))) + Fmt("  p99.9 %.3f", Ms(h.Percentile(99.9))) +
         Fmt("  max %.3f ms", Ms(h.max())) + "  (n=" + std::to_string(h.count()) + ")";
}

std::string SaturateSvg(const std::string& title, const std::vector<SaturateStep>& steps, double p99_limit_ms) {
  const int W = 760, H = 640;
  std::ostringstream s;
  s << Header(W, H, title);
  double xmax = 1, ymax = 1, lmin = 1e9, lmax = 0;
  for (const auto& st : steps) {
    xmax = std::max(xmax, st.offered);
    ymax = std::max({ymax, st.delivered, st.offered});
    for (double v : {st.p50_ms, st.p99_ms, st.p999_ms}) {
      if (v > 0) lmin = std::min(lmin, v);
      lmax = std::max(lmax, v);
    }
  }
  lmax = std::max(lmax, p99_limit_ms);
  if (lmin > lmax) lmin = 0.1;
  Panel top{90, 50, 620, 230, 0, NiceCeil(xmax), 0, NiceCeil(ymax)};
  Frame(s, top, "offered load (msg/s)", "delivered (msg/s)");
  LinearTicks(s, top, true, 5);
  LinearTicks(s, top, false, 5);
  Polyline(s, top, {{0, 0}, {top.x1, top.x1 < top.y1 ? top.x1 : top.y1}}, "#aaa", true);
  std::vector<std::pair<double, double>> delivered;
  for (const auto& st : steps) delivered.push_back({st.offered, st.delivered});
  Polyline(s, top, delivered, kColors[0]);
  Legend(s, top.x + 12, top.y + 18, {{"delivered", kColors[0]}, {"offered (ideal)", "#aaa"}});

  Panel bot{90, 360, 620, 230, 0, NiceCeil(xmax), std::floor(std::log10(lmin)), std::ceil(std::log10(lmax))};
  if (bot.y1 <= bot.y0) bot.y1 = bot.y0 + 1;
  bot.ylog = true;
  Frame(s, bot, "offered load (msg/s)", "latency (ms, log)");
  LinearTicks(s, bot, true, 5);
  LogYTicks(s, bot);
  std::vector<std::pair<double, double>> p50, p99, p999;
  for (const auto& st : steps) {
    p50.push_back({st.offered, std::max(st.p50_ms, 1e-3)});
    p99.push_back({st.offered, std::max(st.p99_ms, 1e-3)});
    p999.push_back({st.offered, std::max(st.p999_ms, 1e-3)});
  }
  Polyline(s, bot, {{0, p99_limit_ms}, {bot.x1, p99_limit_ms}}, "#aaa", true);
  Polyline(s, bot, p50, kColors[2]);
  Polyline(s, bot, p99, kColors[1]);
  Polyline(s, bot, p999, kColors[3]);
  Legend(s, bot.x + 12, bot.y + 18,
         {{"p50", kColors[2]}, {"p99", kColors[1]}, {"p99.9", kColors[3]}, {"p99 limit", "#aaa"}});
  s << "</svg>\n";
  return s.str();
}

std::string LatencySvg(const std::string& title, const std::vector<std::pair<std::string, const Histogram*>>& series) {
  const int W = 760, H = 420;
  std::ostringstream s;
  s << Header(W, H, title);
  // x: percentile on a "nines" scale, x = log10(1 / (1 - p/100)), up to 99.999 %.
  const double xmax = 5;
  double lmin = 1e9, lmax = 0;
  for (auto& [name, h] : series) {
    if (!h || h->count() == 0) continue;
    lmin = std::min(lmin, std::max(Ms(h->min()), 1e-3));
    lmax = std::max(lmax, Ms(h->max()));
  }
  if (lmin > lmax) {
    lmin = 0.01;
    lmax = 1;
  }
  Panel p{90, 50, 620, 300, 0, xmax, std::floor(std::log10(lmin)), std::ceil(std::log10(lmax))};
  if (p.y1 <= p.y0) p.y1 = p.y0 + 1;
  p.ylog = true;
  Frame(s, p, "percentile", "latency (ms, log)");
  LogYTicks(s, p);
  const char* labels[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"};
  for (int i = 0; i <= 5; ++i) {
    const double xx = p.X(i);
    s << "<line x1='" << xx << "' x2='" << xx << "' y1='" << p.y << "' y2='" << p.y + p.h << "' stroke='#eee'/>\n";
    s << "<text x='" << xx << "' y='" << p.y + p.h + 16 << "' text-anchor='middle'>" << labels[i] << "</text>\n";
  }
  std::vector<std::pair<std::string, const char*>> legend;
  size_t ci = 0;
  for (auto& [name, h] : series) {
    if (!h || h->count() == 0) continue;
    std::vector<std::pair<double, double>> pts;
    for (double x = 0; x <= xmax + 1e-9; x += 0.1) {
      const double pct = 100.0 * (1.0 - std::pow(10, -x));
      pts.push_back({x, std::max(Ms(h->Percentile(pct)), 1e-3)});
    }
    const char* color = kColors[ci++ % 6];
    s << "<polyline fill='none' stroke='" << color << "' stroke-width='2' points='";
    for (auto [x, y] : pts) s << Fmt("%.1f", p.X(x)) << "," << Fmt("%.1f", p.Y(y)) << " ";
    s << "'/>\n";
    legend.push_back({name + " (n=" + std::to_string(h->count()) + ")", color});
  }
  Legend(s, p.x + 12, p.y + 18, legend);
  s << "</svg>\n";
  return s.str();
}

namespace {
void Pretty(std::ostringstream& os, const json::value& v, int indent) {
  const std::string pad(static_cast<size_t>(indent) * 2, ' ');
  const std::string pad2(static_cast<size_t>(indent + 1) * 2, ' ');
  if (v.is_object()) {
    const auto& o = v.get_object();
    if (o.empty()) {
      os << "{}";
      return;
    }
    os << "{\n";
    bool first = true;
    for (const auto& kv : o) {
      if (!first) os << ",\n";
      first = false;
      os << pad2 << json::serialize(json::value(kv.key())) << ": ";
      Pretty(os, kv.value(), indent + 1);
    }
    os << "\n" << pad << "}";
  } else if (v.is_array()) {
    const auto& a = v.get_array();
    bool scalar = std::all_of(a.begin(), a.end(), [](const json::value& e) {
      return !e.is_object() && !(e.is_array() && e.get_array().size() > 2);
    });
    if (scalar) {
      os << json::serialize(v);
      return;
    }
    os << "[\n";
    for (size_t i = 0; i < a.size(); ++i) {
      os << pad2;
      Pretty(os, a[i], indent + 1);
      os << (i + 1 < a.size() ? ",\n" : "\n");
    }
    os << pad << "]";
  } else {
    os << json::serialize(v);
  }
}
}  // namespace

std::string PrettyJson(const json::value& v) {
  std::ostringstream os;
  Pretty(os, v, 0);
  os << "\n";
  return os.str();
}

}  // namespace parley::bench
