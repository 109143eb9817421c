#include "common/metrics.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(MetricsTest, RendersPrometheusText) {
  MetricsRegistry registry;
  registry.AddCounter("parley_messages_in_total", "Messages accepted").Inc(3);
  registry.AddGauge("parley_connections", "Open connections").Set(2);
  Histogram& h = registry.AddHistogram("parley_ack_seconds", "Ack latency", {0.001, 0.01});
  h.Observe(0.0005);
  h.Observe(0.005);
  h.Observe(5);
  std::string text = registry.Render();
  EXPECT_NE(text.find("# TYPE parley_messages_in_total counter\nparley_messages_in_total 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("parley_connections 2\n"), std::string::npos);
  EXPECT_NE(text.find("parley_ack_seconds_bucket{le=\"0.001\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("parley_ack_seconds_bucket{le=\"0.01\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("parley_ack_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("parley_ack_seconds_count 3\n"), std::string::npos);
}

TEST(MetricsTest, LabelledSeriesShareOneHeader) {
  MetricsRegistry registry;
  registry.AddCounter("parley_x_total", "X", "kind=\"a\"").Inc();
  registry.AddCounter("parley_x_total", "X", "kind=\"b\"").Inc(2);
  std::string text = registry.Render();
  EXPECT_EQ(text.find("# TYPE parley_x_total"), text.rfind("# TYPE parley_x_total"));
  EXPECT_NE(text.find("parley_x_total{kind=\"b\"} 2"), std::string::npos);
}

}  // namespace
}  // namespace parley
