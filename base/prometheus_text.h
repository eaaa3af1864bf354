// Prometheus' text exposition format (version 0.0.4), written for metric
// families (base/metrics.h): "# HELP" and "# TYPE" lines, then one line per
// sample, with help text and label values escaped as the format requires
// (\\, \n, and \" in label values) and values as Go's strconv would print
// them (integers without an exponent, +Inf, -Inf, NaN).
//
// https://prometheus.io/docs/instrumenting/exposition_formats/
#ifndef EVENHAND_BASE_PROMETHEUS_TEXT_H_
#define EVENHAND_BASE_PROMETHEUS_TEXT_H_

#include <string>
#include <vector>

#include "base/metrics.h"

namespace evenhand::metrics {

inline constexpr char kTextContentType[] = "text/plain; version=0.0.4; charset=utf-8";

std::string RenderText(const std::vector<Family>& families);

// One value as the format writes it.
std::string FormatValue(double value);

}  // namespace evenhand::metrics

#endif  // EVENHAND_BASE_PROMETHEUS_TEXT_H_
