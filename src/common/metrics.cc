#include "common/metrics.h"

#include <algorithm>
#include <fmt/format.h>

namespace parley {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(std::max(v, 0.0) * 1e6), std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

double Histogram::Sum() const { return static_cast<double>(sum_micros_.load()) / 1e6; }

std::vector<double> LatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,    5,     10};
}

Counter& MetricsRegistry::AddCounter(std::string name, std::string help, std::string labels) {
  std::lock_guard lock(mu_);
  Counter& c = counters_.emplace_back();
  entries_.push_back({std::move(name), std::move(help), std::move(labels), "counter", &c});
  return c;
}

Gauge& MetricsRegistry::AddGauge(std::string name, std::string help, std::string labels) {
  std::lock_guard lock(mu_);
  Gauge& g = gauges_.emplace_back();
  entries_.push_back({std::move(name), std::move(help), std::move(labels), "gauge", nullptr, &g});
  return g;
}

Histogram& MetricsRegistry::AddHistogram(std::string name, std::string help,
                                         std::vector<double> bounds, std::string labels) {
  std::lock_guard lock(mu_);
  Histogram& h = histograms_.emplace_back(std::move(bounds));
  entries_.push_back(
      {std::move(name), std::move(help), std::move(labels), "histogram", nullptr, nullptr, &h});
  return h;
}

namespace {
std::string Braced(const std::string& labels, const std::string& extra = "") {
  std::string inner = labels;
  if (!extra.empty()) inner += (inner.empty() ? "" : ",") + extra;
  return inner.empty() ? "" : "{" + inner + "}";
}
}  // namespace

std::string MetricsRegistry::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  std::string last_name;
  for (const Entry& e : entries_) {
    if (e.name != last_name) {  // HELP/TYPE once per family
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", e.name, e.help, e.name, e.type);
      last_name = e.name;
    }
    if (e.counter) out += fmt::format("{}{} {}\n", e.name, Braced(e.labels), e.counter->Value());
    if (e.gauge) out += fmt::format("{}{} {}\n", e.name, Braced(e.labels), e.gauge->Value());
    if (e.histogram) {
      auto counts = e.histogram->CumulativeCounts();
      const auto& bounds = e.histogram->bounds();
      for (size_t i = 0; i < bounds.size(); ++i) {
        out += fmt::format("{}_bucket{} {}\n", e.name,
                           Braced(e.labels, fmt::format("le=\"{}\"", bounds[i])), counts[i]);
      }
      out += fmt::format("{}_bucket{} {}\n", e.name, Braced(e.labels, "le=\"+Inf\""),
                         counts.back());
      out += fmt::format("{}_sum{} {}\n", e.name, Braced(e.labels), e.histogram->Sum());
      out += fmt::format("{}_count{} {}\n", e.name, Braced(e.labels), e.histogram->Count());
    }
  }
  return out;
}

}  // namespace parley
