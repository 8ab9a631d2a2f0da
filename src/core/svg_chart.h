// Small SVG charts written by our own code (no plotting library): a line chart of one or more
// series over a shared x axis (e.g. a loss curve per step, with eval points), and a grouped bar
// chart (e.g. metrics per eval set before and after training). Both return a complete SVG
// document; values that are not finite are skipped.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace helix::svg {

struct Series {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (x, y)
  bool markers = false;                           // draw dots (sparse series) instead of a line
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
};

struct BarChart {
  std::string title, y_label;
  std::vector<std::string> groups;      // along the x axis
  std::vector<std::string> bar_labels;  // bars within a group (legend)
  std::vector<std::vector<double>> values;  // values[bar][group]
  double y_max = 0;                     // 0: from the data
};

std::string line_chart(const LineChart& c, int width = 640, int height = 360);
std::string bar_chart(const BarChart& c, int width = 640, int height = 360);
// Several charts (of the given widths) side by side in one document.
std::string side_by_side(const std::vector<std::string>& charts, const std::vector<int>& widths, int height);

std::string escape(const std::string& text);  // for SVG text content and attributes

}  // namespace helix::svg
