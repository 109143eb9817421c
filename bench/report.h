// Output of parley-bench: latency summaries, the human table, and hand-written
// SVG plots (saturation curve, latency percentile distribution).
#pragma once

#include <boost/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "histogram.h"

namespace parley::bench {

// {count, mean_ms, p50_ms, p90_ms, p99_ms, p999_ms, max_ms, dist: [[percentile, ms], ...]}
boost::json::object LatencyJson(const Histogram& h, bool with_distribution = false);
// "p50 0.31  p90 0.52  p99 1.20  p99.9 4.10  max 9.80 ms (n=...)"
std::string LatencyLine(const Histogram& h);

struct SaturateStep {
  double offered = 0;    // msg/s scheduled
  double sent = 0;       // msg/s actually sent
  double delivered = 0;  // msg/s received within the step's window
  double p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
};

std::string SaturateSvg(const std::string& title, const std::vector<SaturateStep>& steps, double p99_limit_ms);
std::string LatencySvg(const std::string& title, const std::vector<std::pair<std::string, const Histogram*>>& series);

// Pretty-prints a JSON value (two-space indent).
std::string PrettyJson(const boost::json::value& v);

}  // namespace parley::bench
