#pragma once
// Server-side SVG plots: no chart library, no CDN, so a page drawn at a site with no internet
// shows its plots. Each plotted point is one <circle class="pt"> (flagged ones also "flagged"),
// so a test (or an operator's script) can count what was drawn.
#include <string>
#include <vector>

namespace tianyu::web::svg {

struct Point {
  double x = 0, y = 0;
  bool flagged = false;
};

struct Plot {
  std::string title;    // escaped when drawn
  std::string x_label;
  std::string y_label;
  std::vector<Point> points;  // drawn as dots
  std::vector<Point> line;    // drawn as a polyline over the dots (e.g. binned values)
  bool bars = false;          // draw `points` as bars from zero instead (throughput)
  bool invert_y = false;      // larger values lower (magnitudes, airmass reads naturally)
  int width = 560, height = 220;
};

inline Plot titled(std::string title, std::string x_label, std::string y_label) {
  Plot p;
  p.title = std::move(title);
  p.x_label = std::move(x_label);
  p.y_label = std::move(y_label);
  return p;
}

// The plot as an <svg> element. Non-finite values are left out.
std::string render(const Plot& plot);

}  // namespace tianyu::web::svg
