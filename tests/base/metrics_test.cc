// The metrics registry and Prometheus' text exposition format (base/metrics.h,
// base/prometheus_text.h). The format is also parsed by Prometheus' own
// Python parser against a live server (tests/server/metrics_test.py).
#include "base/metrics.h"

#include <cmath>
#include <limits>

#include "base/prometheus_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evenhand::metrics {
namespace {

using ::testing::HasSubstr;

TEST(PrometheusText, CounterWithEscapedHelpAndLabels) {
  Family f;
  f.name = "x_total";
  f.help = "a \\ backslash\nand a newline";
  f.type = Type::kCounter;
  f.samples.push_back({"", {{"path", "C:\\dir \"quoted\"\nnext"}}, 3});
  EXPECT_EQ(RenderText({f}),
            "# HELP x_total a \\\\ backslash\\nand a newline\n"
            "# TYPE x_total counter\n"
            "x_total{path=\"C:\\\\dir \\\"quoted\\\"\\nnext\"} 3\n");
}

TEST(PrometheusText, Values) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(12345678901234), "12345678901234");
  EXPECT_EQ(FormatValue(-2), "-2");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(PrometheusText, HistogramBucketsAreCumulative) {
  Registry r;
  Histogram& h = r.GetHistogram("t_seconds", "time", {0.1, 1}, {{"code", "OK"}});
  h.Observe(0.05);
  h.Observe(0.1);  // le is inclusive
  h.Observe(0.5);
  h.Observe(7);
  const std::string text = RenderText(r.Collect());
  EXPECT_THAT(text, HasSubstr("# TYPE t_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_bucket{code=\"OK\",le=\"0.1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_bucket{code=\"OK\",le=\"1\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_bucket{code=\"OK\",le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_sum{code=\"OK\"} 7.6500000000000004\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_count{code=\"OK\"} 4\n"));
}

TEST(Registry, SameNameAndLabelsIsTheSameMetric) {
  Registry r;
  Counter& a = r.GetCounter("c_total", "help", {{"k", "v"}});
  Counter& b = r.GetCounter("c_total", "help", {{"k", "v"}});
  Counter& other = r.GetCounter("c_total", "help", {{"k", "w"}});
  a.Add(2);
  b.Add();
  other.Add(10);
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(a.value(), 3u);
  const auto families = r.Collect();
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].samples.size(), 2u);
}

TEST(Registry, Names) {
  EXPECT_TRUE(ValidMetricName("evenhand_appends_total"));
  EXPECT_TRUE(ValidMetricName("a:b_c9"));
  EXPECT_FALSE(ValidMetricName("9lives"));
  EXPECT_FALSE(ValidMetricName("has-dash"));
  EXPECT_FALSE(ValidMetricName(""));
  EXPECT_TRUE(ValidLabelName("code"));
  EXPECT_FALSE(ValidLabelName("le"));
  EXPECT_FALSE(ValidLabelName("__reserved"));
  EXPECT_FALSE(ValidLabelName("a:b"));
}

TEST(RegistryDeathTest, InvalidNameIsAProgrammingError) {
  Registry r;
  EXPECT_DEATH(r.GetCounter("bad name", "help"), "invalid metric name");
}

}  // namespace
}  // namespace evenhand::metrics
