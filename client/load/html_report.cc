// --format html: one self-contained page (inline CSS and SVG; no script, no external resource)
// with the summary, the latency histogram and the run over time.
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "client/load/load.h"

namespace tensord::load {
namespace {

std::string Html(const std::string& s) {
  return absl::StrReplaceAll(
      s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}});
}

std::string Ms(double ns) { return absl::StrFormat("%.3f ms", ns / 1e6); }

constexpr double kW = 860, kH = 300, kLeft = 64, kRight = 64, kTop = 24, kBottom = 56;

// A "nice" axis maximum at or above v.
double NiceMax(double v) {
  if (v <= 0) return 1;
  const double p = std::pow(10, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * p >= v) return m * p;
  return 10 * p;
}

std::string Axis(double x0, double y0, double x1, double y1) {
  return absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n",
                         x0, y0, x1, y1);
}

std::string Text(double x, double y, const std::string& s, const char* anchor = "middle",
                 const char* cls = "label") {
  return absl::StrFormat("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"%s\">%s</text>\n",
                         x, y, anchor, cls, Html(s));
}

std::string HistogramSvg(const Report& r) {
  std::string svg = absl::StrFormat(
      "<svg id=\"histogram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"latency histogram\">\n",
      kW, kH, kW, kH);
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  int64_t top = 0;
  for (const auto& [upper, n] : r.bins) top = std::max(top, n);
  const double ymax = NiceMax(static_cast<double>(top));
  absl::StrAppend(&svg, Axis(kLeft, kTop + ph, kLeft + pw, kTop + ph),
                  Axis(kLeft, kTop, kLeft, kTop + ph));
  for (int i = 0; i <= 4; ++i) {
    const double y = kTop + ph - ph * i / 4;
    absl::StrAppend(&svg, Text(kLeft - 6, y + 4, absl::StrFormat("%.0f", ymax * i / 4), "end"));
  }
  absl::StrAppend(&svg, Text(14, kTop + ph / 2, "requests", "middle", "label vertical"));
  const size_t n = std::max<size_t>(1, r.bins.size());
  const double slot = pw / static_cast<double>(n);
  for (size_t i = 0; i < r.bins.size(); ++i) {
    const auto& [upper, count] = r.bins[i];
    const double h = ph * static_cast<double>(count) / ymax;
    const double x = kLeft + slot * static_cast<double>(i) + slot * 0.1;
    absl::StrAppendFormat(&svg,
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                          "class=\"bar\"><title>&lt;= %s: %d</title></rect>\n",
                          x, kTop + ph - h, slot * 0.8, h, Html(Ms(static_cast<double>(upper))),
                          count);
    absl::StrAppend(&svg, Text(x + slot * 0.4, kTop + ph + 16,
                               absl::StrFormat("%.3g", static_cast<double>(upper) / 1e6)));
  }
  absl::StrAppend(&svg, Text(kLeft + pw / 2, kH - 12, "latency, upper bound of the bin (ms)"));
  return svg + "</svg>\n";
}

std::string TimelineSvg(const Report& r) {
  std::string svg = absl::StrFormat(
      "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"requests per second and latency over "
      "time\">\n",
      kW, kH, kW, kH);
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  const double interval = r.interval_s > 0 ? r.interval_s : 1;
  double tmax = 0, rate_top = 0, lat_top = 0;
  for (const Report::Point& p : r.timeline) {
    tmax = std::max(tmax, p.t_s);
    rate_top = std::max(rate_top, static_cast<double>(p.count) / interval);
    lat_top = std::max(lat_top, p.mean_ms);
    if (r.config.rps > 0 || r.config.load_schedule != "const")
      rate_top = std::max(rate_top, p.target);
  }
  tmax = std::max(tmax, interval);
  const double rmax = NiceMax(rate_top), lmax = NiceMax(lat_top);
  absl::StrAppend(&svg, Axis(kLeft, kTop + ph, kLeft + pw, kTop + ph),
                  Axis(kLeft, kTop, kLeft, kTop + ph),
                  Axis(kLeft + pw, kTop, kLeft + pw, kTop + ph));
  for (int i = 0; i <= 4; ++i) {
    const double y = kTop + ph - ph * i / 4;
    absl::StrAppend(&svg, Text(kLeft - 6, y + 4, absl::StrFormat("%.4g", rmax * i / 4), "end"));
    absl::StrAppend(&svg,
                    Text(kLeft + pw + 6, y + 4, absl::StrFormat("%.3g", lmax * i / 4), "start"));
    absl::StrAppend(
        &svg, Text(kLeft + pw * i / 4, kTop + ph + 16, absl::StrFormat("%.3gs", tmax * i / 4)));
  }
  const auto x_of = [&](double t) { return kLeft + pw * t / tmax; };
  const double bw = std::max(1.0, pw * interval / tmax * 0.9);
  std::string latency, target;
  for (const Report::Point& p : r.timeline) {
    const double rate = static_cast<double>(p.count) / interval;
    const double h = ph * rate / rmax;
    absl::StrAppendFormat(&svg,
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"%s\">"
                          "<title>%.3gs: %.4g req/s, %d errors, mean %.3f ms</title></rect>\n",
                          x_of(p.t_s) - bw, kTop + ph - h, bw, h, p.errors > 0 ? "bar err" : "bar",
                          p.t_s, rate, p.errors, p.mean_ms);
    if (p.count > 0) {
      absl::StrAppendFormat(&latency, "%.1f,%.1f ", x_of(p.t_s - interval / 2),
                            kTop + ph - ph * p.mean_ms / lmax);
    }
    if (r.config.rps > 0 || r.config.load_schedule != "const") {
      absl::StrAppendFormat(&target, "%.1f,%.1f ", x_of(p.t_s - interval / 2),
                            kTop + ph - ph * p.target / rmax);
    }
  }
  if (!target.empty())
    absl::StrAppend(&svg, "<polyline points=\"", target, "\" class=\"target\"/>\n");
  if (!latency.empty())
    absl::StrAppend(&svg, "<polyline points=\"", latency, "\" class=\"latency\"/>\n");
  absl::StrAppend(&svg, Text(14, kTop + ph / 2, "requests/s", "middle", "label vertical"),
                  Text(kW - 12, kTop + ph / 2, "mean latency (ms)", "middle", "label vertical-r"),
                  Text(kLeft + pw / 2, kH - 12, "time since the start of the run"));
  return svg + "</svg>\n";
}

}  // namespace

std::string RenderHtml(const Report& r) {
  const Config& c = r.config;
  const std::string what = c.call.empty() ? c.scenario : absl::StrCat("call ", c.call);
  std::string out = absl::StrCat(
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta "
      "charset=\"utf-8\">\n<title>tensord-load: ",
      Html(what), "</title>\n",
      "<style>\n"
      "body{font:14px/1.4 sans-serif;margin:24px;color:#222}h1{font-size:20px}"
      "h2{font-size:16px;margin-top:28px}table{border-collapse:collapse}"
      "td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}"
      "td.n{text-align:right;font-variant-numeric:tabular-nums}"
      ".axis{stroke:#444;stroke-width:1}.label{font:11px sans-serif;fill:#333}"
      ".vertical{writing-mode:vertical-rl}.vertical-r{writing-mode:vertical-rl}"
      ".bar{fill:#4a7bd0}.err{fill:#d04a4a}.latency{fill:none;stroke:#e08a00;stroke-width:2}"
      ".target{fill:none;stroke:#2a2;stroke-width:1.5;stroke-dasharray:5 3}"
      ".legend span{display:inline-block;margin-right:16px}"
      ".sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}\n"
      "</style>\n</head>\n<body>\n<h1>tensord-load: ",
      Html(what), "</h1>\n<p>", Html(r.request), " &mdash; ", Html(c.address), "</p>\n");
  if (r.setup_error) {
    absl::StrAppend(&out, "<p><strong>Setup failed:</strong> ",
                    Html(StatusCodeName(r.setup_error->code)), ": ", Html(r.setup_error->message),
                    "</p>\n");
  }
  absl::StrAppend(&out, "<h2>Summary</h2>\n<table id=\"summary\">\n");
  const auto row = [&out](const std::string& k, const std::string& v) {
    absl::StrAppend(&out, "<tr><th>", Html(k), "</th><td class=\"n\">", Html(v), "</td></tr>\n");
  };
  row("Requests", absl::StrCat(r.count, " (", r.ok, " ok, ", r.errors, " errors)"));
  row("Workers",
      absl::StrCat(c.concurrency, c.concurrency_schedule != "const"
                                      ? absl::StrCat(" (", c.concurrency_schedule, " schedule)")
                                      : ""));
  row("Load", c.load_schedule != "const"
                  ? absl::StrFormat("open loop, %s schedule %g to %g req/s", c.load_schedule,
                                    c.load_start, c.load_end)
              : c.rps > 0 ? absl::StrFormat("open loop, %g req/s", c.rps)
                          : "closed loop");
  row("Elapsed", absl::StrFormat("%.3f s", r.elapsed_s));
  row("Requests/sec", absl::StrFormat("%.2f", r.throughput));
  row("Fastest", Ms(static_cast<double>(r.min_ns)));
  row("Average", Ms(r.mean_ns));
  for (const auto& [name, ns] : r.percentiles) row(name, Ms(static_cast<double>(ns)));
  row("Slowest", Ms(static_cast<double>(r.max_ns)));
  for (size_t i = 0; i < r.status_codes.size(); ++i) {
    if (r.status_codes[i] > 0)
      row(absl::StrCat("[", StatusCodeName(static_cast<int>(i)), "]"),
          absl::StrCat(r.status_codes[i]));
  }
  absl::StrAppend(&out, "</table>\n");
  if (!r.error_samples.empty()) {
    absl::StrAppend(&out, "<h2>Errors</h2>\n<ul>\n");
    for (const ErrorSample& e : r.error_samples) {
      absl::StrAppend(&out, "<li>", e.count, " &times; ", Html(StatusCodeName(e.code)), ": ",
                      Html(e.message), "</li>\n");
    }
    absl::StrAppend(&out, "</ul>\n");
  }
  absl::StrAppend(&out, "<h2>Latency histogram</h2>\n", HistogramSvg(r));
  absl::StrAppend(
      &out, "<h2>Over time</h2>\n<p class=\"legend\">",
      "<span><i class=\"sw\" style=\"background:#4a7bd0\"></i>requests/s (left axis)</span>",
      "<span><i class=\"sw\" style=\"background:#d04a4a\"></i>an interval with errors</span>",
      "<span><i class=\"sw\" style=\"background:#e08a00\"></i>mean latency, ms (right axis)</span>",
      c.rps > 0 || c.load_schedule != "const"
          ? "<span><i class=\"sw\" style=\"background:#2a2\"></i>target rate</span>"
          : "",
      absl::StrFormat("</p>\n<p>One bar per %.3g s.</p>\n", r.interval_s), TimelineSvg(r),
      "</body>\n</html>\n");
  return out;
}

}  // namespace tensord::load
