#include "core/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace helix::svg {
namespace {

const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

std::string tick(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

struct Frame {
  double l = 56, t = 34, r, b;  // plot area in pixels
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  double px(double x) const { return l + (x - x0) / (x1 - x0) * (r - l); }
  double py(double y) const { return b - (y - y0) / (y1 - y0) * (b - t); }
};

std::string header(int w, int h) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(w) + "\" height=\"" + std::to_string(h) +
         "\" viewBox=\"0 0 " + std::to_string(w) + " " + std::to_string(h) +
         "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
}

std::string text(double x, double y, const std::string& s, const char* anchor = "middle", const char* extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + anchor + "\"" + extra + ">" + escape(s) +
         "</text>\n";
}

// Axes, grid lines with 5 y ticks, title and labels.
std::string axes(const Frame& f, const std::string& title, const std::string& x_label, const std::string& y_label,
                 bool x_ticks) {
  std::string o;
  o += text((f.l + f.r) / 2, 18, title, "middle", " font-size=\"13\" font-weight=\"bold\"");
  for (int i = 0; i <= 4; ++i) {
    const double y = f.y0 + (f.y1 - f.y0) * i / 4.0;
    o += "<line x1=\"" + num(f.l) + "\" x2=\"" + num(f.r) + "\" y1=\"" + num(f.py(y)) + "\" y2=\"" + num(f.py(y)) +
         "\" stroke=\"#ddd\"/>\n";
    o += text(f.l - 4, f.py(y) + 4, tick(y), "end");
  }
  if (x_ticks)
    for (int i = 0; i <= 4; ++i) {
      const double x = f.x0 + (f.x1 - f.x0) * i / 4.0;
      o += text(f.px(x), f.b + 14, tick(x));
    }
  o += "<rect x=\"" + num(f.l) + "\" y=\"" + num(f.t) + "\" width=\"" + num(f.r - f.l) + "\" height=\"" +
       num(f.b - f.t) + "\" fill=\"none\" stroke=\"#444\"/>\n";
  if (!x_label.empty()) o += text((f.l + f.r) / 2, f.b + 30, x_label);
  if (!y_label.empty())
    o += "<text transform=\"translate(14," + num((f.t + f.b) / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         escape(y_label) + "</text>\n";
  return o;
}

std::string legend(const Frame& f, const std::vector<std::string>& labels) {
  std::string o;
  for (size_t i = 0; i < labels.size(); ++i) {
    const double y = f.t + 8 + 14 * static_cast<double>(i);
    o += "<rect x=\"" + num(f.r - 120) + "\" y=\"" + num(y - 8) + "\" width=\"10\" height=\"10\" fill=\"" +
         kColors[i % 10] + "\"/>\n";
    o += text(f.r - 106, y + 1, labels[i], "start");
  }
  return o;
}

}  // namespace

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '&') o += "&amp;";
    else if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

std::string line_chart(const LineChart& c, int width, int height) {
  Frame f;
  f.r = width - 16;
  f.b = height - 40;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Series& s : c.series)
    for (auto [x, y] : s.points)
      if (std::isfinite(x) && std::isfinite(y)) x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  if (!(x0 <= x1)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  const double pad = (y1 - y0) * 0.05;
  f.x0 = x0, f.x1 = x1, f.y0 = std::max(0.0, y0 - pad), f.y1 = y1 + pad;
  if (y0 < 0) f.y0 = y0 - pad;
  std::string o = header(width, height) + axes(f, c.title, c.x_label, c.y_label, true);
  std::vector<std::string> labels;
  for (size_t i = 0; i < c.series.size(); ++i) {
    const Series& s = c.series[i];
    labels.push_back(s.label);
    const char* col = kColors[i % 10];
    std::string pts;
    for (auto [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      if (s.markers)
        o += "<circle cx=\"" + num(f.px(x)) + "\" cy=\"" + num(f.py(y)) + "\" r=\"3.5\" fill=\"" + col + "\"/>\n";
      else
        pts += num(f.px(x)) + "," + num(f.py(y)) + " ";
    }
    if (!pts.empty()) o += "<polyline fill=\"none\" stroke=\"" + std::string(col) + "\" stroke-width=\"1.5\" points=\"" + pts + "\"/>\n";
  }
  return o + legend(f, labels) + "</svg>\n";
}

std::string bar_chart(const BarChart& c, int width, int height) {
  Frame f;
  f.r = width - 16;
  f.b = height - 40;
  double ymax = c.y_max;
  if (ymax <= 0)
    for (const auto& v : c.values)
      for (double x : v)
        if (std::isfinite(x)) ymax = std::max(ymax, x);
  f.y1 = ymax > 0 ? ymax : 1;
  std::string o = header(width, height) + axes(f, c.title, "", c.y_label, false);
  const size_t ng = std::max<size_t>(1, c.groups.size()), nb = std::max<size_t>(1, c.values.size());
  const double gw = (f.r - f.l) / static_cast<double>(ng), bw = gw * 0.8 / static_cast<double>(nb);
  for (size_t g = 0; g < c.groups.size(); ++g) {
    const double gx = f.l + gw * static_cast<double>(g) + gw * 0.1;
    for (size_t b = 0; b < c.values.size(); ++b) {
      const double v = g < c.values[b].size() ? c.values[b][g] : NAN;
      if (!std::isfinite(v)) continue;
      const double x = gx + bw * static_cast<double>(b), y = f.py(std::min(v, f.y1));
      o += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(bw * 0.92) + "\" height=\"" +
           num(f.b - y) + "\" fill=\"" + kColors[b % 10] + "\"><title>" + escape(c.groups[g]) + " " +
           escape(b < c.bar_labels.size() ? c.bar_labels[b] : "") + ": " + tick(v) + "</title></rect>\n";
    }
    o += text(gx + gw * 0.4, f.b + 14, c.groups[g]);
  }
  return o + legend(f, c.bar_labels) + "</svg>\n";
}

std::string side_by_side(const std::vector<std::string>& charts, const std::vector<int>& widths, int height) {
  int total = 0;
  for (int w : widths) total += w;
  std::string o = header(total, height);
  int x = 0;
  for (size_t i = 0; i < charts.size(); ++i) {
    o += "<g transform=\"translate(" + std::to_string(x) + ",0)\">\n" + charts[i] + "</g>\n";
    x += i < widths.size() ? widths[i] : 0;
  }
  return o + "</svg>\n";
}

}  // namespace helix::svg
